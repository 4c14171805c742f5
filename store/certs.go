package store

// CertificatesOf returns every certificate issued to a device, expired and
// revoked ones included (the agent's and its browser certificates).
func (s *Store) CertificatesOf(deviceID string) []*Certificate {
	return all[Certificate](s.Txn(), KindCertificate, "device", deviceID)
}
