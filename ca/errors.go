package ca

import "errors"

// Errors callers can test for with errors.Is. The wrapped text says what
// exactly was wrong and is safe to show to the operator or the agent.
var (
	// ErrInvalidCSR: the certificate request is malformed, badly signed,
	// uses a weak or unsupported key, or asks for names it may not have.
	ErrInvalidCSR = errors.New("invalid certificate request")
	// ErrInvalidDeviceID: the device id is empty or has characters outside
	// [A-Za-z0-9._~-].
	ErrInvalidDeviceID = errors.New("invalid device id")
	// ErrUnknownCertificate: no certificate with this serial was issued.
	ErrUnknownCertificate = errors.New("unknown certificate")
	// ErrRevoked: the certificate is revoked.
	ErrRevoked = errors.New("certificate revoked")
	// ErrExpired: the certificate is outside its validity period.
	ErrExpired = errors.New("certificate expired or not yet valid")
	// ErrUntrusted: the certificate does not chain to Portier's root or is
	// not a device client certificate.
	ErrUntrusted = errors.New("certificate not trusted")
	// ErrNoKeys is returned by a KeyStore's Load when no CA exists yet.
	ErrNoKeys = errors.New("no CA key material")
	// ErrKeysExist is returned by a KeyStore's Create when material appeared
	// meanwhile (another replica created the CA first).
	ErrKeysExist = errors.New("CA key material already exists")
	// ErrWrongPassword: the sealed CA keys cannot be opened with the given
	// password or key file.
	ErrWrongPassword = errors.New("cannot unseal the CA keys: wrong password or key file, or damaged data")
)
