//go:build !linux

package server

import "net"

// peerUID is not available on this system: the audit log says "unknown".
func peerUID(*net.UnixConn) string { return "unknown" }
