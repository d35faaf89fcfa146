/* Process facts: effective capabilities (capget(2)), whether a pid exists; the calling thread's CPU. */
#define _GNU_SOURCE /* sched_setaffinity, CPU_SET */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <linux/capability.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "internal.h"
#include "mcr.h"

MCR_EXPORT MCR_COLD int mcr_capabilities(uint32_t *out)
{
	struct __user_cap_header_struct hdr;
	struct __user_cap_data_struct data[2];

	memset(&hdr, 0, sizeof(hdr));
	memset(data, 0, sizeof(data));
	hdr.version = _LINUX_CAPABILITY_VERSION_3;
	hdr.pid = 0;
	if (syscall(SYS_capget, &hdr, data) < 0)
		return __mcr_neg_errno();
	out[0] = data[0].effective;
	out[1] = data[1].effective;
	return 0;
}

#include <signal.h>

/* 1 if a process with this pid exists (kill(pid, 0) succeeds or fails with EPERM), else 0. */
MCR_EXPORT int mcr_process_exists(int pid)
{
	if (pid <= 0)
		return 0;
	return (kill(pid, 0) == 0 || errno == EPERM) ? 1 : 0;
}

/*
 * Sets sig's disposition to SIG_IGN. Returns what it replaced: 0 the default
 * action, 1 already ignored, 2 a handler (someone had installed one); -errno.
 */
MCR_EXPORT MCR_COLD int mcr_signal_ignore(int sig)
{
	struct sigaction ignore, old;

	memset(&ignore, 0, sizeof(ignore));
	ignore.sa_handler = SIG_IGN;
	sigemptyset(&ignore.sa_mask);
	if (sigaction(sig, &ignore, &old) < 0)
		return __mcr_neg_errno();
	if (!(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_DFL)
		return 0;
	if (!(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_IGN)
		return 1;
	return 2;
}

#include <sys/resource.h>

/* Raises the soft limit of open files to the hard limit. Returns the new soft limit (capped at INT32_MAX). */
MCR_EXPORT MCR_COLD int mcr_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return __mcr_neg_errno();
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			return __mcr_neg_errno();
	}
	return rl.rlim_cur > 0x7fffffff ? 0x7fffffff : (int)rl.rlim_cur;
}

#include <time.h>

/* CLOCK_REALTIME in microseconds (the clock of the rings' packet timestamps), as a double (exact below 2^53). */
MCR_EXPORT double mcr_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* CLOCK_MONOTONIC in microseconds (systemd's MONOTONIC_USEC), as a double. */
MCR_EXPORT double mcr_monotonic_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

#include <dirent.h>

/* Open file descriptors of this process (entries of /proc/self/fd, less the one reading it). */
MCR_EXPORT MCR_COLD int mcr_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return __mcr_neg_errno();
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;
}

#include <sched.h>

/*
 * Sets the calling thread's timer slack (ns): how late the kernel may fire
 * its timed sleeps so as to group wake-ups (50 us by default, as much as a
 * worker's nap). Returns 0 or -errno.
 */
MCR_EXPORT MCR_COLD int mcr_timer_slack(int ns)
{
	return prctl(PR_SET_TIMERSLACK, (unsigned long)(ns > 0 ? ns : 1), 0, 0, 0) < 0 ? __mcr_neg_errno() : 0;
}

/*
 * Sets the calling thread's scheduling policy: SCHED_FIFO at `priority`
 * (1-99: a wake-up preempts every ordinary task on its CPU), or the
 * ordinary policy (0). Returns 0, -EINVAL for a priority out of range, or
 * -EPERM without CAP_SYS_NICE (or an RLIMIT_RTPRIO that allows it).
 */
MCR_EXPORT MCR_COLD int mcr_thread_priority(int priority)
{
	struct sched_param p = { .sched_priority = priority };

	if (priority < 0 || priority > 99)
		return -EINVAL;
	return sched_setscheduler(0, priority > 0 ? SCHED_FIFO : SCHED_OTHER, &p) < 0 ?
		__mcr_neg_errno() : 0;
}

/*
 * Pins the calling thread to one CPU (cpu >= 0), or gives it back the CPUs
 * the process started with (cpu < 0: the thread group leader's mask).
 * Returns 0, or -EINVAL for a CPU that does not exist or is not allowed.
 */
MCR_EXPORT MCR_COLD int mcr_pin_thread(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	if (cpu >= 0) {
		if (cpu >= CPU_SETSIZE)
			return -EINVAL;
		CPU_SET(cpu, &set);
	} else if (sched_getaffinity(getpid(), sizeof(set), &set) < 0) {
		return __mcr_neg_errno();
	}
	return sched_setaffinity(0, sizeof(set), &set) < 0 ? __mcr_neg_errno() : 0;
}

int __mcr_read_text(const char *path, char *buf, int len)
{
	ssize_t n;
	int fd;

	if (len < 2)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return __mcr_neg_errno();
	n = read(fd, buf, (size_t)len - 1);
	close(fd);
	if (n <= 0)
		return n < 0 ? -EIO : -ENODATA;
	buf[n] = 0;
	return (int)n;
}

MCR_EXPORT MCR_COLD int mcr_thread_name(const char *name)
{
	return prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0) < 0 ? __mcr_neg_errno() : 0;
}

MCR_EXPORT MCR_COLD int mcr_thread_id(void)
{
	return (int)syscall(SYS_gettid);
}

MCR_EXPORT MCR_COLD int mcr_thread_state(int tid, double *out)
{
	char path[64], text[1024], *p;
	long ticks = sysconf(_SC_CLK_TCK);
	unsigned long long utime = 0, stime = 0;
	int n, field;

	if (tid <= 0 || ticks <= 0)
		return -EINVAL;
	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	n = __mcr_read_text(path, text, (int)sizeof(text));
	if (n < 0)
		return n;
	/* The name (field 2) may hold spaces and parentheses: fields start after the last ')'. */
	p = strrchr(text, ')');
	if (p == NULL || p[1] != ' ')
		return -EIO;
	p += 2;
	out[0] = (double)(unsigned char)p[0];
	/* p is at field 3 (state); utime and stime are fields 14 and 15. */
	for (field = 3; field < 14 && p != NULL; field++) {
		p = strchr(p, ' ');
		if (p != NULL)
			p++;
	}
	if (p == NULL || sscanf(p, "%llu %llu", &utime, &stime) != 2)
		return -EIO;
	out[1] = (double)(utime + stime) * 1000.0 / (double)ticks;
	return 0;
}
