package server

import (
	"net"
	"strconv"
	"syscall"
)

// peerUID is the user id of the process at the other end of a unix socket,
// as the kernel reports it (SO_PEERCRED), for the audit log.
func peerUID(c *net.UnixConn) string {
	raw, err := c.SyscallConn()
	if err != nil {
		return "unknown"
	}
	uid := "unknown"
	_ = raw.Control(func(fd uintptr) {
		if cred, err := syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED); err == nil {
			uid = strconv.FormatUint(uint64(cred.Uid), 10)
		}
	})
	return uid
}
