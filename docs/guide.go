// Package docs holds Portier's guides, written in Markdown beside this
// file. The employee user guide (user-guide.md, with the images it shows)
// is embedded in the binary: the console serves it at /help.
package docs

import "embed"

// UserGuide holds user-guide.md and the images it shows.
//
//go:embed user-guide.md images/byod-watermark.png
var UserGuide embed.FS

// UserGuidePath is the guide's file in UserGuide.
const UserGuidePath = "user-guide.md"
