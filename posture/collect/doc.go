// Package collect is the Portier agent's posture collection: it runs the
// platform's own tools (or reads its files), parses their output into
// named signals, and never reports a signal the device's data profile does
// not allow.
//
// A Set holds the collectors of one platform (Linux, MacOS, Windows) bound
// to an Env: a Runner for commands (ExecRunner in production: timeout,
// bounded output, LC_ALL=C), an fs.FS rooted at "/" for files such as
// /etc/os-release and /proc/uptime, a free-space call and the agent
// version. Set.Run takes the allowed signal names and a clock; a collector
// none of whose signals is allowed is never started, and the set drops any
// signal outside the allowed set (the server filters again).
//
// Parsers are pure functions over the tools' raw bytes (UTF-16 with or
// without BOM, CRLF and UTF-8 BOM are normalized first). They fail closed:
// output they do not understand — another display language, a changed
// format, a partial listing — is an error carried in Signal.Error, never a
// guessed "secure" value.
//
// # Signals
//
// Names are stable; SIGNALS.md has the sources per platform.
//
//	name                          kind    platforms             meaning
//	agent.version                 string  linux macos windows   agent version
//	os.name                       string  linux macos windows   OS name
//	os.id                         string  linux macos windows   os-release ID, "macos", "windows"
//	os.version                    string  linux macos windows   VERSION_ID / ProductVersion / 10.0.BUILD
//	os.build                      string  macos windows         BuildVersion / build number
//	kernel.version                string  linux macos           uname -r
//	uptime.seconds                int     linux macos windows   seconds since boot
//	disk.free_bytes               int     linux macos windows   free bytes on / or C:\
//	disk.encrypted                bool    linux macos windows   root volume fully encrypted, protection on
//	disk.encryption_method        string  linux macos windows   luks1, luks2, dm-crypt-plain, filevault, bitlocker, none
//	disk.encryption_cipher        string  linux windows         aes-xts-plain64, xts-aes-128, …
//	updates.pending               int     linux macos windows   pending updates of any kind
//	updates.security_pending      int     linux macos windows   pending security updates
//	updates.security_oldest_days  int     linux windows         age of the oldest pending security update
//	firewall.enabled              bool    linux macos windows   inbound filtering on (Windows: every profile)
//	firewall.product              string  linux macos windows   firewalld, ufw, nftables, macOS Application Firewall, Windows Firewall
//	screenlock.enabled            bool    linux macos           screen locks by itself
//	screenlock.delay_seconds      int     linux macos           inactivity before the lock
//	secureboot.enabled            bool    linux windows         UEFI Secure Boot on
//	sip.enabled                   bool    macos                 System Integrity Protection fully on
//	gatekeeper.enabled            bool    macos                 Gatekeeper assessments on
//	antivirus.running             bool    windows               an antivirus with real-time protection runs
//	antivirus.product             string  windows               which antivirus
//	antivirus.signatures_age_days int     windows               signature age
//	mdm.enrolled                  bool    macos                 enrolled in an MDM
//	apps.installed                apps    linux macos windows   installed applications (corporate profiles only)
package collect
