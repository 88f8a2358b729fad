#ifndef COFFER_SYS_H
#define COFFER_SYS_H
#include <sys/types.h>
#include <stdint.h>

/// Reads SO_PEERCRED of a connected AF_UNIX socket. Returns 0 or -1 with errno set.
int coffer_peer_cred(int fd, int32_t *pid, uint32_t *uid, uint32_t *gid);

#endif
