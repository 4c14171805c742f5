package posture

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/portier/portier/apperr"
	"github.com/portier/portier/posture/collect"
	"github.com/portier/portier/store"
)

// External ingestion limits and headers (docs/compliance.md).
const (
	MaxExternalBytes   = 256 << 10
	SignatureHeader    = "X-Portier-Signature"
	SourceHeader       = "X-Portier-Source"
	SignatureTolerance = 5 * time.Minute
)

// ExternalReport is the JSON body an external MDM or EDR posts.
type ExternalReport struct {
	Source     string           `json:"source"`
	Device     ExternalDevice   `json:"device"`
	ObservedAt time.Time        `json:"observed_at"`
	Signals    []ExternalSignal `json:"signals"`
}

// ExternalDevice names the device by hardware serial or Portier device id.
type ExternalDevice struct {
	Serial    string `json:"serial,omitempty"`
	PortierID string `json:"portier_id,omitempty"`
}

// ExternalSignal is one observation: a known signal name and its value.
type ExternalSignal struct {
	Name  string          `json:"name"`
	Value json.RawMessage `json:"value"`
}

// ExternalResult is what an accepted observation did.
type ExternalResult struct {
	DeviceID string   `json:"device_id"`
	Accepted int      `json:"accepted"`
	Dropped  []string `json:"dropped,omitempty"` // outside the source's allow-list or the device's data profile
}

// ParseExternal reads and validates an external body (already
// authenticated). Errors are 400s naming the field.
func ParseExternal(body []byte) (ExternalReport, []collect.Signal, error) {
	var r ExternalReport
	if len(body) > MaxExternalBytes {
		return r, nil, apperr.New(apperr.TooLarge, "the body is larger than %d bytes", MaxExternalBytes)
	}
	var w struct {
		Source     string            `json:"source"`
		Device     *ExternalDevice   `json:"device"`
		ObservedAt json.RawMessage   `json:"observed_at"`
		Signals    []json.RawMessage `json:"signals"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			f = strings.Trim(f, `"`)
			return r, nil, apperr.Field(f, "unknown field %q", f)
		}
		return r, nil, jsonError("", err)
	}
	if dec.More() {
		return r, nil, apperr.New(apperr.Invalid, "the body must hold one JSON object")
	}
	r.Source = w.Source
	switch {
	case w.Device == nil || (w.Device.Serial == "" && w.Device.PortierID == ""):
		return r, nil, apperr.Field("device", "device needs serial or portier_id")
	case len(w.ObservedAt) == 0 || string(w.ObservedAt) == "null":
		return r, nil, apperr.Field("observed_at", "observed_at is required (RFC 3339, e.g. 2025-03-10T12:00:00Z)")
	case len(w.Signals) > maxSignals:
		return r, nil, apperr.Field("signals", "at most %d signals", maxSignals)
	}
	r.Device = *w.Device
	if err := json.Unmarshal(w.ObservedAt, &r.ObservedAt); err != nil {
		return r, nil, apperr.Field("observed_at", "observed_at must be an RFC 3339 time such as 2025-03-10T12:00:00Z")
	}
	sigs := make([]collect.Signal, 0, len(w.Signals))
	for i, raw := range w.Signals {
		at := fmt.Sprintf("signals[%d]", i)
		var s ExternalSignal
		if err := json.Unmarshal(raw, &s); err != nil {
			return r, nil, jsonError(at, err)
		}
		info, ok := catalog[s.Name]
		switch {
		case s.Name == "":
			return r, nil, apperr.Field(at+".name", "%s.name is required", at)
		case !ok:
			return r, nil, apperr.Field(at+".name", "%s.name: unknown signal %q (see the signal table in docs/compliance.md)", at, s.Name)
		case info.group == GroupLocation:
			return r, nil, apperr.Field(at+".name", "%s.name: external sources may not send location", at)
		case len(s.Value) == 0 || string(s.Value) == "null":
			return r, nil, apperr.Field(at+".value", "%s.value is required", at)
		}
		v, err := decodeValue(info.kind, s.Value)
		if err != nil {
			return r, nil, apperr.Field(at+".value", "%s.value: %s %v", at, s.Name, err)
		}
		r.Signals = append(r.Signals, s)
		sigs = append(sigs, collect.Signal{Name: s.Name, Value: v, CollectedAt: r.ObservedAt})
	}
	return r, sigs, nil
}

// verifySignature checks `t=<unix>,v1=<hex>[,v1=<hex>]` over "t." + body
// with HMAC-SHA256, within SignatureTolerance of now.
func verifySignature(secret, body []byte, header string, now time.Time) error {
	var ts int64
	var macs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return errors.New("bad timestamp")
			}
			ts = n
		case "v1":
			if m, err := hex.DecodeString(v); err == nil && len(m) == sha256.Size {
				macs = append(macs, m)
			}
		}
	}
	if ts == 0 || len(macs) == 0 {
		return errors.New("missing t= or v1=")
	}
	if d := now.Sub(time.Unix(ts, 0)); d > SignatureTolerance || d < -SignatureTolerance {
		return fmt.Errorf("timestamp %d outside the %s tolerance", ts, SignatureTolerance)
	}
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(strconv.FormatInt(ts, 10)))
	h.Write([]byte{'.'})
	h.Write(body)
	want := h.Sum(nil)
	for _, m := range macs {
		if hmac.Equal(m, want) {
			return nil
		}
	}
	return errors.New("no matching v1 signature")
}

// Sign returns the X-Portier-Signature value for body at time t: what an
// external source computes (exported for tests, tools and docs).
func Sign(secret, body []byte, t time.Time) string {
	h := hmac.New(sha256.New, secret)
	fmt.Fprintf(h, "%d.", t.Unix())
	h.Write(body)
	return fmt.Sprintf("t=%d,v1=%s", t.Unix(), hex.EncodeToString(h.Sum(nil)))
}

func errSignature() error {
	return apperr.New(apperr.Unauthenticated, "unknown source or invalid signature")
}

// IngestExternal accepts a signed observation from an external source.
// source may be "" to take it from the body's "source" field. The
// signature is checked before the body is parsed. Errors are
// *apperr.Error values: 401 bad signature, 400 naming the field, 404
// unknown device, 409 older than the stored observation, 413 too large.
func (e *Engine) IngestExternal(ctx context.Context, source string, body []byte, signatureHeader string) error {
	_, err := e.ingestExternal(ctx, source, body, signatureHeader)
	return err
}

func (e *Engine) ingestExternal(ctx context.Context, source string, body []byte, sigHeader string) (ExternalResult, error) {
	res, actions, err := e.ingestExternalLocked(ctx, source, body, sigHeader)
	if err == nil {
		e.enqueue(ctx, res.DeviceID, actions) // outside the device lock
	}
	return res, err
}

func (e *Engine) ingestExternalLocked(ctx context.Context, source string, body []byte, sigHeader string) (res ExternalResult, actions []queued, err error) {
	if len(body) > MaxExternalBytes {
		return res, nil, apperr.New(apperr.TooLarge, "the body is larger than %d bytes", MaxExternalBytes)
	}
	cfg := e.Config()
	now := e.clock()
	if source == "" {
		source = peekSource(body)
	}
	src, ok := cfg.Sources[source]
	if !ok {
		e.log.Warn("posture: external report from an unknown source", "source", source)
		return res, nil, errSignature()
	}
	if err := verifySignature(src.secret, body, sigHeader, now); err != nil {
		e.log.Warn("posture: external report with a bad signature", "source", source, "err", err)
		return res, nil, errSignature()
	}
	rep, sigs, err := ParseExternal(body)
	if err != nil {
		return res, nil, err
	}
	if rep.Source != "" && rep.Source != source {
		return res, nil, apperr.Field("source", "source %q does not match the signing source %q", rep.Source, source)
	}
	if rep.ObservedAt.After(now.Add(SignatureTolerance)) {
		return res, nil, apperr.Field("observed_at", "observed_at is in the future")
	}
	d, err := e.externalDevice(rep.Device)
	if err != nil {
		return res, nil, err
	}
	unlock := e.lock(d.ID)
	defer unlock()
	old, err := e.device(d.ID)
	if err != nil {
		return res, nil, err
	}
	res.DeviceID = old.ID
	prof := cfg.Profile(old)
	kept := make([]collect.Signal, 0, len(sigs))
	for _, s := range sigs {
		if !src.Allowed.Has(s.Name) || !prof.Allows(s.Name) {
			res.Dropped = append(res.Dropped, s.Name)
			continue
		}
		s.Source = externalSourcePrefix + source
		kept = append(kept, s)
	}
	res.Accepted = len(kept)
	np := &store.Posture{ID: old.ID}
	if p, ok := e.st.Posture(old.ID); ok {
		*np = *p
		if raw, ok := p.External[source]; ok {
			var prev externalEntry
			if json.Unmarshal(raw, &prev) == nil && rep.ObservedAt.Before(prev.ObservedAt) {
				return res, nil, errReplay("the observation is older than the one already stored for this source")
			}
		}
	}
	keptJSON, err := json.Marshal(kept)
	if err != nil {
		return res, nil, err
	}
	entry, err := json.Marshal(externalEntry{Source: source, ObservedAt: rep.ObservedAt, ReceivedAt: now, Signals: keptJSON})
	if err != nil {
		return res, nil, err
	}
	ext := make(map[string]json.RawMessage, len(np.External)+1)
	for k, v := range np.External {
		ext[k] = v
	}
	ext[source] = entry
	np.External = ext
	agent, err := DecodeSignals(np.Signals)
	if err != nil {
		e.log.Warn("posture: unreadable stored posture", "device", old.ID, "err", err)
	}
	nd := *old
	out := settle(e.forDevice(cfg, old), old, &nd, agent, e.externals(cfg, np, now), now, false)
	if err := e.st.Write(ctx, out.ops(store.Put(np))...); err != nil {
		return res, nil, fmt.Errorf("posture: store external posture: %w", err)
	}
	e.logWould(&out)
	return res, out.actions, nil
}

// externalDevice finds the device an external body names: by Portier id,
// else by serial, preferring a device that is not retired.
func (e *Engine) externalDevice(ref ExternalDevice) (*store.Device, error) {
	if ref.PortierID != "" {
		d, ok := e.st.Device(ref.PortierID)
		if !ok || (ref.Serial != "" && d.Serial != ref.Serial) {
			return nil, errUnknown()
		}
		return d, nil
	}
	it, err := e.st.Txn().Get(string(store.KindDevice), "serial", ref.Serial)
	if err != nil {
		return nil, errUnknown()
	}
	var found *store.Device
	for raw := it.Next(); raw != nil; raw = it.Next() {
		d := raw.(*store.Device)
		if found == nil || (found.State == store.DeviceRetired || found.State == store.DeviceWiped) {
			found = d
		}
	}
	if found == nil {
		return nil, errUnknown()
	}
	return found, nil
}

// peekSource finds the top-level "source" string of a body that may be
// malformed further on, so its key can be picked and the signature checked
// before the body is parsed (and its errors reported).
func peekSource(body []byte) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return ""
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return ""
		}
		if k == "source" {
			v, err := dec.Token()
			s, _ := v.(string)
			if err != nil {
				return ""
			}
			return s
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return ""
		}
	}
	return ""
}
