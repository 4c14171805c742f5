package enrollment

import "strings"

// platformNames are the platforms BrowserPlatform tells apart, with the
// name people know them by.
var platformNames = map[string]string{
	"android": "Android", "ios": "iPhone or iPad", "windows": "Windows",
	"macos": "Mac", "chromeos": "ChromeOS", "linux": "Linux",
}

// maxUserAgent bounds how much of a User-Agent header is read.
const maxUserAgent = 512

// BrowserPlatform tells a browser's platform from its User-Agent header
// (untrusted: the browser may say anything, so the result only names the
// device and picks instructions, it never grants access): "android",
// "ios", "windows", "macos", "chromeos", "linux", or "" when unknown.
func BrowserPlatform(ua string) string {
	if len(ua) > maxUserAgent {
		ua = ua[:maxUserAgent]
	}
	switch {
	case strings.Contains(ua, "Android"):
		return "android"
	case strings.Contains(ua, "iPhone"), strings.Contains(ua, "iPad"), strings.Contains(ua, "iPod"):
		return "ios"
	case strings.Contains(ua, "Windows NT"):
		return "windows"
	case strings.Contains(ua, "CrOS"):
		return "chromeos"
	case strings.Contains(ua, "Macintosh"), strings.Contains(ua, "Mac OS X"):
		return "macos"
	case strings.Contains(ua, "Linux"), strings.Contains(ua, "X11"):
		return "linux"
	}
	return ""
}

// MobilePlatform reports whether a platform is a phone or tablet, where
// the agent does not run and the browser path is the way to enroll.
func MobilePlatform(p string) bool { return p == "android" || p == "ios" }

// PlatformName is the name people know a platform by ("" when unknown).
func PlatformName(p string) string { return platformNames[p] }
