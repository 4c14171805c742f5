package ui

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Languages the console speaks; the first is the default.
var Languages = []string{"en", "fr"}

// Catalogue holds every message of the console in every language, read
// from messages/<lang>.json (one flat object: key → text).
type Catalogue struct {
	msgs map[string]map[string]string
}

func loadCatalogue() (*Catalogue, error) {
	c := &Catalogue{msgs: map[string]map[string]string{}}
	for _, l := range Languages {
		b, err := files.ReadFile("messages/" + l + ".json")
		if err != nil {
			return nil, err
		}
		m := map[string]string{}
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("ui: messages/%s.json: %w", l, err)
		}
		c.msgs[l] = m
	}
	return c, nil
}

// Keys lists the catalogue's keys in language lang, sorted.
func (c *Catalogue) Keys(lang string) []string {
	var out []string
	for k := range c.msgs[lang] {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// T is key in lang, formatted with args; the key itself when missing.
func (c *Catalogue) T(lang, key string, args ...any) string {
	p := Page{Lang: lang, msgs: c.lang(lang)}
	return p.T(key, args...)
}

func (c *Catalogue) lang(l string) map[string]string {
	if m, ok := c.msgs[l]; ok {
		return m
	}
	return c.msgs[Languages[0]]
}

// Pick chooses the page language from an Accept-Language header: the
// first listed language the console speaks, by the header's order and
// quality values; English when none.
func Pick(acceptLanguage string) string {
	best, bestQ := Languages[0], 0.0
	for _, part := range strings.Split(acceptLanguage, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if _, err := fmt.Sscanf(v, "%g", &q); err != nil {
				continue
			}
		}
		base, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
		for _, l := range Languages {
			if base == l && q > bestQ {
				best, bestQ = l, q
			}
		}
	}
	return best
}
