#define _GNU_SOURCE /* GNU strerror_r */
/* Text for -errno values, for messages built on the TypeScript side. */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "mcr.h"

MCR_EXPORT int mcr_strerror(int err, char *buf, int len)
{
	char tmp[128];
	const char *text;
	int n;

	if (buf == NULL || len <= 0)
		return -EINVAL;
	/* GNU strerror_r may return a static string instead of filling tmp. */
	text = strerror_r(err < 0 ? -err : err, tmp, sizeof(tmp));
	n = snprintf(buf, (size_t)len, "%s", text);
	/* Lowercase the first letter: "No such device" -> "no such device". */
	if (n > 0 && buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z'))
		buf[0] = (char)(buf[0] - 'A' + 'a');
	return n < len ? n : len - 1;
}
