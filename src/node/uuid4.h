/* Random (version 4) uuid strings for request messageIds (PROTOCOL.md §13),
 * cheap enough to make one per request.
 *
 * Why not libuuid's uuid_generate_random: it re-seeds random(3) on every
 * call from getpid, getppid, gettid and getuid, then calls getrandom: six
 * system calls and ~9 us of CPU per uuid on the shared VM, more than the
 * pipe transport spends moving a small request and its reply
 * (bench/README.md, "Pipe echo"). Here the bytes come from getrandom(2) too,
 * but fetched VX_UUID4_POOL bytes at a time. */
#ifndef VX_NODE_UUID4_H
#define VX_NODE_UUID4_H

/* Bytes of kernel randomness fetched at once: 256 uuids per system call. */
#define VX_UUID4_POOL 4096

/* Write a fresh lowercase uuid4 string, "xxxxxxxx-xxxx-4xxx-Nxxx-xxxxxxxxxxxx"
 * (N one of 8 9 a b), and its NUL into `out`. Never fails: if the kernel
 * has no getrandom, libuuid does the work. Thread-safe (one pool per
 * thread); a process made by fork() never hands out its parent's bytes. */
void vxn_uuid4(char out[37]);

#endif
