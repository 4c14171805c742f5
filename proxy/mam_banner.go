package proxy

import (
	"strings"

	"github.com/portier/portier/policy"
)

// restrictionWords describe each restriction in a few words, by language,
// in policy.Restrictions.Names order.
var restrictionWords = map[string]map[string]string{
	"en": {
		"read_only": "read-only", "block_downloads": "downloads blocked", "block_uploads": "file uploads blocked",
		"no_store": "pages not kept in the browser cache", "watermark": "pages watermarked with your e-mail",
		"block_clipboard": "copy and paste blocked", "block_print": "printing blocked",
	},
	"fr": {
		"read_only": "lecture seule", "block_downloads": "téléchargements bloqués", "block_uploads": "envoi de fichiers bloqué",
		"no_store": "pages non gardées dans le cache du navigateur", "watermark": "pages marquées de votre e-mail",
		"block_clipboard": "copier-coller bloqué", "block_print": "impression bloquée",
	},
}

// describeRestrictions lists the restrictions in words of lang.
func describeRestrictions(rs policy.Restrictions, lang string) string {
	words := restrictionWords[lang]
	names := rs.Names()
	for i, n := range names {
		names[i] = words[n]
	}
	return strings.Join(names, ", ")
}

// bannerText is the banner's sentence: what is restricted, and why (the
// rule that granted access under these restrictions).
func (c *containment) bannerText() string {
	rule := strings.Join(c.rules, ", ")
	if c.lang == "fr" {
		s := "Accès restreint sur cet appareil : " + describeRestrictions(c.rs, "fr") + "."
		if rule != "" {
			s += " Règle d'accès : " + rule + "."
		}
		return s
	}
	s := "Restricted access on this device: " + describeRestrictions(c.rs, "en") + "."
	if rule != "" {
		s += " Access rule: " + rule + "."
	}
	return s
}
