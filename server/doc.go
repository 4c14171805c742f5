// Package server assembles a running Portier from its config: the data
// dir, the store, the CA, the HTTPS listener that dispatches by Host to the
// console or the proxy, the metrics listener, first-run bootstrap, and a
// graceful shutdown.
package server
