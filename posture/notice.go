package posture

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/portier/portier/agentwire"
	"github.com/portier/portier/store"
)

// Notice is the plain-language "what your organization can see on this
// device" description, derived from the device's effective data profile.
// It is served by GET /api/v1/devices/{id}/privacy and `portier agent privacy`.
type Notice = agentwire.Notice

// NoticeGroup is one category of collected data, with its items in plain words.
type NoticeGroup = agentwire.NoticeGroup

// Privacy returns the device's notice in English.
func (e *Engine) Privacy(d *store.Device) Notice { return e.Config().Notice(d, "en") }

// PrivacyIn returns the device's notice in a language: "fr" for French,
// anything else for English.
func (e *Engine) PrivacyIn(d *store.Device, lang string) Notice {
	return e.Config().Notice(d, lang)
}

// Notice builds the notice of a device in lang ("en" or "fr").
func (c *Config) Notice(d *store.Device, lang string) Notice {
	t := noticeTexts(lang)
	prof := c.Profile(d)
	n := Notice{Lang: t.lang, DeviceID: d.ID, Ownership: string(d.Ownership), WorkProfile: d.WorkProfile, Title: t.title, Contact: c.Privacy.Contact, Signals: prof.Signals}
	n.Summary = t.summary(d)
	names := slices.Clone(prof.Signals)
	sort.SliceStable(names, func(i, j int) bool { return catalog[names[i]].order < catalog[names[j]].order })
	for _, g := range groupOrder {
		var items []string
		for _, name := range names {
			info := catalog[name]
			if info.group != g {
				continue
			}
			label := info.en
			if t.lang == "fr" {
				label = info.fr
			}
			items = append(items, label)
		}
		if len(items) > 0 {
			n.Collected = append(n.Collected, NoticeGroup{Group: g, Title: t.groups[g][0], Why: t.groups[g][1], Items: items})
		}
	}
	n.NotCollected = append(n.NotCollected, t.never...)
	if !prof.Allows(appsSignal) {
		n.NotCollected = append(n.NotCollected, t.noApps)
	}
	if prof.Location == nil {
		n.NotCollected = append(n.NotCollected, t.noLocation)
		n.Location = t.locationOff
	} else {
		l := c.Privacy.Location
		n.Location = fmt.Sprintf(t.locationOn, l.Hours.DaysString(), clock(l.Hours.From), clock(l.Hours.To), l.Purpose, t.duration(l.Retention))
	}
	r := c.Privacy.Retention
	n.Retention = []string{
		fmt.Sprintf(t.retPosture, t.duration(r.Posture)),
		fmt.Sprintf(t.retEvents, t.duration(r.Events)),
		fmt.Sprintf(t.retActions, t.duration(r.Actions)),
	}
	n.Actions = t.actions(d)
	n.Rights = t.rights
	if n.Contact != "" {
		n.Rights += " " + fmt.Sprintf(t.contact, n.Contact)
	}
	return n
}

// NoticeText renders a notice as plain text for a terminal or an e-mail.
func NoticeText(n Notice) string {
	t := noticeTexts(n.Lang)
	var b strings.Builder
	b.WriteString(n.Title + "\n" + strings.Repeat("=", len([]rune(n.Title))) + "\n\n" + n.Summary + "\n\n")
	b.WriteString(t.hCollected + "\n")
	for _, g := range n.Collected {
		fmt.Fprintf(&b, "\n%s — %s\n", g.Title, g.Why)
		for _, it := range g.Items {
			b.WriteString("  - " + it + "\n")
		}
	}
	b.WriteString("\n" + t.hNot + "\n")
	for _, it := range n.NotCollected {
		b.WriteString("  - " + it + "\n")
	}
	b.WriteString("\n" + t.hLocation + "\n  " + n.Location + "\n")
	b.WriteString("\n" + t.hRetention + "\n")
	for _, it := range n.Retention {
		b.WriteString("  - " + it + "\n")
	}
	b.WriteString("\n" + t.hActions + "\n")
	for _, it := range n.Actions {
		b.WriteString("  - " + it + "\n")
	}
	b.WriteString("\n" + t.hRights + "\n  " + n.Rights + "\n")
	return b.String()
}

// duration writes a retention period in days (or hours below a day).
func (t texts) duration(d time.Duration) string {
	if d < 24*time.Hour {
		return fmt.Sprintf(t.hours, int(d.Hours()))
	}
	return fmt.Sprintf(t.days, int(d.Hours()/24))
}
