package enrollment

import (
	"slices"
	"time"

	"github.com/portier/portier/store"
)

// KPIs are the rollout indicators of the deployment guide: how much of
// the expected fleet is enrolled, how long provisioning takes, and how
// fast wipes are carried out.
type KPIs struct {
	// Expected devices imported, how many of them enrolled, and the ratio
	// (0 when nothing is expected).
	Expected       int     `json:"expected_devices"`
	EnrolledOfThem int     `json:"expected_enrolled"`
	EnrollmentRate float64 `json:"enrollment_rate"`
	// Devices by state.
	Devices     int `json:"devices"`
	Active      int `json:"active"`
	Quarantined int `json:"quarantined"`
	Retired     int `json:"retired"`
	Wiped       int `json:"wiped"`
	// Time to provision: pre-registration (or code creation) to first
	// compliant check-in, over the devices provisioned so far.
	Provisioned            int     `json:"provisioned"`
	ProvisionMedianSeconds float64 `json:"time_to_provision_median_seconds"`
	ProvisionP90Seconds    float64 `json:"time_to_provision_p90_seconds"`
	// Time to wipe: request to acknowledgement of wipes and selective
	// wipes carried out.
	Wipes             int     `json:"wipes"`
	WipeMedianSeconds float64 `json:"time_to_wipe_median_seconds"`
	// At is when the figures were computed.
	At time.Time `json:"at"`
}

// KPIs computes the rollout indicators from the read model.
func (s *Service) KPIs() KPIs {
	k := KPIs{At: s.clock().UTC()}
	for _, e := range s.st.ExpectedDevices() {
		k.Expected++
		if e.EnrolledAs != "" {
			k.EnrolledOfThem++
		}
	}
	if k.Expected > 0 {
		k.EnrollmentRate = float64(k.EnrolledOfThem) / float64(k.Expected)
	}
	var prov []float64
	for _, d := range s.st.Devices() {
		k.Devices++
		switch d.State {
		case store.DeviceActive:
			k.Active++
		case store.DeviceQuarantined:
			k.Quarantined++
		case store.DeviceRetired:
			k.Retired++
		case store.DeviceWiped:
			k.Wiped++
		}
		if !d.ProvisionedAt.IsZero() && !d.ProvisionStart.IsZero() && !d.ProvisionedAt.Before(d.ProvisionStart) {
			prov = append(prov, d.ProvisionedAt.Sub(d.ProvisionStart).Seconds())
		}
	}
	var wipes []float64
	for _, a := range s.st.Actions() {
		if (a.Type == ActionWipe || a.Type == ActionSelectiveWipe) && a.Status == store.ActionAcknowledged && !a.DoneAt.Before(a.RequestedAt) {
			wipes = append(wipes, a.DoneAt.Sub(a.RequestedAt).Seconds())
		}
	}
	k.Provisioned, k.Wipes = len(prov), len(wipes)
	k.ProvisionMedianSeconds = Quantile(prov, 0.5)
	k.ProvisionP90Seconds = Quantile(prov, 0.9)
	k.WipeMedianSeconds = Quantile(wipes, 0.5)
	return k
}

// Quantile is the q-quantile of xs by linear interpolation between
// closest ranks; 0 for no data.
func Quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	pos := q * float64(len(s)-1)
	lo := int(pos)
	if lo+1 >= len(s) {
		return s[len(s)-1]
	}
	return s[lo] + (pos-float64(lo))*(s[lo+1]-s[lo])
}
