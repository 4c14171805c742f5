// Package store holds Portier's state: the domain records every part reads
// and writes, the contract of the durable backends (embedded bbolt file or
// PostgreSQL), and the go-memdb read model that the hot path queries.
//
// Writes go durable first, then into memdb, always in change-sequence order.
// A restart rebuilds memdb from the durable store. Processes sharing one
// PostgreSQL database converge by catching up on the change sequence.
package store
