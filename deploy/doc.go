// Package deploy holds Portier's packaging (Dockerfile at the repository
// root, Docker Compose, the Helm chart, Prometheus alert rules, the Grafana
// dashboard, systemd and agent units) and the tests that check it: the
// chart renders to valid Kubernetes objects, the compose file runs two
// replicas behind a TCP load balancer, and every metric an alert or panel
// uses is one Portier registers. It has no code of its own.
package deploy
