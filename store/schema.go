package store

import (
	"encoding/json"
	"fmt"

	"github.com/hashicorp/go-memdb"
)

// kindSpec ties a kind to its memdb table and its decoder.
type kindSpec struct {
	indexes map[string]*memdb.IndexSchema
	decode  func([]byte) (Record, error)
	// logOnly kinds are kept by the backend's audit log, never in the read
	// model or the record tables (see AuditLog).
	logOnly bool
	// history kinds are records of the backend (followed, backed up) that
	// only grow: never loaded into the read model, read page by page with
	// Store.Scan.
	history bool
}

func decoder[T any, P interface {
	*T
	Record
}]() func([]byte) (Record, error) {
	return func(b []byte) (Record, error) {
		var v T
		if err := json.Unmarshal(b, &v); err != nil {
			return nil, err
		}
		return P(&v), nil
	}
}

// specs is the fixed table of kinds: read-only after package init, like a
// type switch written as data.
var specs = map[Kind]kindSpec{
	KindDevice: {decode: decoder[Device](), indexes: map[string]*memdb.IndexSchema{
		"serial":      field("serial", false, func(r *Device) string { return r.Serial }),
		"cert_serial": field("cert_serial", false, func(r *Device) string { return r.CertSerial }),
		"owner": {Name: "owner", AllowMissing: true, Indexer: emailIndex{of: func(o any) (string, bool) {
			d, ok := o.(*Device)
			return d.OwnerEmail, ok
		}}},
	}},
	KindCertificate: {decode: decoder[Certificate](), indexes: map[string]*memdb.IndexSchema{
		"device": field("device", false, func(r *Certificate) string { return r.DeviceID }),
	}},
	KindRevocation: {decode: decoder[Revocation]()},
	KindSession: {decode: decoder[Session](), indexes: map[string]*memdb.IndexSchema{
		"user":   field("user", false, func(r *Session) string { return r.UserID }),
		"parent": field("parent", false, func(r *Session) string { return r.ParentID }),
	}},
	KindHandoff: {decode: decoder[Handoff]()},
	KindCredential: {decode: decoder[Credential](), indexes: map[string]*memdb.IndexSchema{
		"user": field("user", false, func(r *Credential) string { return r.UserID }),
	}},
	KindAuthFlow:   {decode: decoder[AuthFlow]()},
	KindPosture:    {decode: decoder[Posture]()},
	KindEnrollCode: {decode: decoder[EnrollCode]()},
	KindExpectedDevice: {decode: decoder[ExpectedDevice](), indexes: map[string]*memdb.IndexSchema{
		"ek": field("ek", false, func(r *ExpectedDevice) string { return r.TPMEKSHA256 }),
	}},
	KindAction: {decode: decoder[Action](), indexes: map[string]*memdb.IndexSchema{
		"device": field("device", false, func(r *Action) string { return r.DeviceID }),
		"idem":   field("idem", true, func(r *Action) string { return r.IdempotencyKey }),
	}},
	KindDeviceEvent: {decode: decoder[DeviceEvent](), indexes: map[string]*memdb.IndexSchema{
		"device": field("device", false, func(r *DeviceEvent) string { return r.DeviceID }),
	}},
	KindUser: {decode: decoder[User](), indexes: map[string]*memdb.IndexSchema{
		"email": {Name: "email", Unique: true, AllowMissing: true, Indexer: emailIndex{of: func(o any) (string, bool) {
			u, ok := o.(*User)
			return u.Email, ok
		}}},
	}},
	KindToken: {decode: decoder[Token](), indexes: map[string]*memdb.IndexSchema{
		"secret": field("secret", true, func(r *Token) string { return r.SecretHash }),
	}},
	KindIdentityLink: {decode: decoder[IdentityLink](), indexes: map[string]*memdb.IndexSchema{
		"user": field("user", false, func(r *IdentityLink) string { return r.UserID }),
	}},
	KindAttestChallenge: {decode: decoder[AttestChallenge](), indexes: map[string]*memdb.IndexSchema{
		"owner": field("owner", false, func(r *AttestChallenge) string { return r.Owner }),
	}},
	KindInvite:      {decode: decoder[Invite]()},
	KindBlob:        {decode: decoder[Blob]()},
	KindClaim:       {decode: decoder[Claim]()},
	KindApproval:    {decode: decoder[Approval]()},
	KindRolloutPlan: {decode: decoder[RolloutPlan]()},

	KindRoute:       {decode: decoder[Rule]()},
	KindPolicy:      {decode: decoder[Rule]()},
	KindCompliance:  {decode: decoder[Rule]()},
	KindRuleVersion: {decode: decoder[RuleVersion](), history: true},

	// The approval settings changed at run time (approval.go).
	KindApprovalSettings: {decode: decoder[ApprovalSettings]()},

	KindAudit:      {decode: decoder[AuditEvent](), logOnly: true},
	KindAuditChain: {decode: decoder[AuditChain](), logOnly: true},
}

// Kinds lists every record kind, for backends that create a table per
// kind: the read model's and the history kinds. The audit log's kinds are
// not among them.
func Kinds() []Kind {
	out := make([]Kind, 0, len(specs))
	for k, spec := range specs {
		if !spec.logOnly {
			out = append(out, k)
		}
	}
	return out
}

// InReadModel reports whether records of kind k are loaded into the read
// model (false for the audit log's kinds, history kinds and unknown kinds).
func InReadModel(k Kind) bool {
	spec, ok := specs[k]
	return ok && !spec.logOnly && !spec.history
}

func schema() *memdb.DBSchema {
	s := &memdb.DBSchema{Tables: map[string]*memdb.TableSchema{}}
	for k, spec := range specs {
		if spec.logOnly || spec.history {
			continue
		}
		idx := map[string]*memdb.IndexSchema{"id": idIndex()}
		for n, i := range spec.indexes {
			idx[n] = i
		}
		s.Tables[string(k)] = &memdb.TableSchema{Name: string(k), Indexes: idx}
	}
	return s
}

// Decode turns a stored value back into its record.
func Decode(k Kind, b []byte) (Record, error) {
	spec, ok := specs[k]
	if !ok {
		return nil, fmt.Errorf("unknown record kind %q", k)
	}
	r, err := spec.decode(b)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", k, err)
	}
	return r, nil
}

// Encode turns a record into the bytes a backend stores.
func Encode(r Record) ([]byte, error) { return json.Marshal(r) }
