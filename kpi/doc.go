// Package kpi keeps the fleet's rollout figures over time: it computes the
// counts behind each KPI of the deployment guide (enrollment, compliance,
// encryption, trust, OS and security updates, provisioning, lock and wipe
// response, access decisions, attention, open actions) per department,
// group, platform, ownership and wave, stores them as one snapshot per day
// in the store, and reads them back as figures with their targets and
// trends for the dashboard and its API.
package kpi
