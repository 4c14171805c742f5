package agent

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// The device proves itself in the browser: after enrollment and every
// renewal the agent installs the device identity (key and certificate
// chain) where the platform's browsers look, and a browser policy that
// selects it without a prompt for Portier's hosts only. Each place is a
// BrowserStore; what was installed where is recorded in browser.json so it
// can be removed exactly (after a renewal, and everything on unenroll,
// revoke, retire or wipe).

// BrowserIdentity is what the stores install: the device's key and
// certificate chain, the people of the device, and the hosts (origins) of
// Portier that may ask for the certificate.
type BrowserIdentity struct {
	DeviceID string
	Key      crypto.PrivateKey
	Leaf     *x509.Certificate
	// Intermediates follow the leaf (the issuing CA), without the root.
	Intermediates []*x509.Certificate
	// Users are the local people whose browsers get the identity.
	Users []LocalUser
	// Origins are Portier's https origins (console and routes), such as
	// https://wiki.example.com or https://portier.localhost:8443.
	Origins []string
	// NewTPMBrowserKey makes a person's browser key in the TPM and gets
	// its certificate, nil when the agent cannot.
	NewTPMBrowserKey NewTPMBrowserKeyFunc
}

// Placement is one place a store put the identity, as recorded in
// browser.json and shown by `portier agent status`.
type Placement struct {
	Store string `json:"store"`          // "nss", "firefox", "chromium-policy", ...
	User  string `json:"user,omitempty"` // the local account, "" for machine-wide places
	UID   int    `json:"uid,omitempty"`
	GID   int    `json:"gid,omitempty"`
	Home  string `json:"home,omitempty"`
	// SID is the Windows account's security identifier (windows-user-task).
	SID string `json:"sid,omitempty"`
	// AsAgent: the user's commands ran as the agent (see LocalUser).
	AsAgent bool   `json:"as_agent,omitempty"`
	Path    string `json:"path"` // the database or file
	Serial  string `json:"serial,omitempty"`
	// Nickname is the NSS nickname of the device certificate and key;
	// CANicknames those of the intermediates imported with it.
	Nickname    string   `json:"nickname,omitempty"`
	CANicknames []string `json:"ca_nicknames,omitempty"`
	// Thumbprint is the SHA-1 of the device certificate (upper-case hex),
	// by which the Keychain and the Windows store name it; CAThumbprints
	// those of the intermediates imported with it.
	Thumbprint    string   `json:"thumbprint,omitempty"`
	CAThumbprints []string `json:"ca_thumbprints,omitempty"`
	// Entries are what else the store wrote and must undo: the Keychain's
	// identity preferences (their URLs), or the registry value names of a
	// Windows policy list.
	Entries []string `json:"entries,omitempty"`
}

// BrowserStore installs the device identity in one kind of place and
// removes it again. Install returns every place it wrote, also when it
// fails part-way, so what was written can always be removed.
type BrowserStore interface {
	Name() string
	Install(ctx context.Context, id *BrowserIdentity) ([]Placement, error)
	Remove(ctx context.Context, p Placement) error
}

// LocalUser is a person's account on the device.
type LocalUser struct {
	Name string `json:"name"`
	UID  int    `json:"uid"`
	GID  int    `json:"gid"`
	Home string `json:"home"`
	// AsAgent runs the user's commands as the agent itself (no change of
	// user): the agent runs as this user, or a test names a home.
	AsAgent bool `json:"as_agent,omitempty"`
	// SID is the Windows security identifier of the account (Windows
	// only; the name is then DOMAIN\name).
	SID string `json:"sid,omitempty"`
}

// Command is one program run for a store: as the agent, or as a local
// user (then with that user's HOME, so every file it writes is the
// user's own).
type Command struct {
	Path string
	Args []string
	// User runs the program as this person; nil (or AsAgent) runs it as
	// the agent.
	User *LocalUser
}

func (c Command) String() string { return strings.Join(append([]string{c.Path}, c.Args...), " ") }

// CommandRunner runs a command and returns its combined output. Tests
// replace it with a fake that checks exact commands.
type CommandRunner func(ctx context.Context, c Command) ([]byte, error)

// Origins turns Portier's origins into the sorted unique set of https
// origins (scheme://host[:port], no path), dropping anything else.
func Origins(in []string) []string {
	var out []string
	for _, s := range in {
		u, err := url.Parse(strings.TrimSpace(s))
		if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || strings.ContainsAny(u.Host, "*[]\"\\ ") {
			continue
		}
		out = append(out, "https://"+strings.ToLower(u.Host))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// errNoUsers says no local person was found to install for.
var errNoUsers = errors.New("no local user account to install the device identity for")

// describe is how a placement reads in logs and status.
func (p Placement) describe() string {
	if p.User != "" {
		return fmt.Sprintf("%s for %s: %s", p.Store, p.User, p.Path)
	}
	return fmt.Sprintf("%s: %s", p.Store, p.Path)
}
