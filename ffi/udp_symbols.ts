/** UDP sockets for the traffic tools (c/udp.c). */
export const UDP_SYMBOLS = {} as const satisfies Deno.ForeignLibraryInterface;
