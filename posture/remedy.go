package posture

// Remediation hints shown to the user on the deny page and in the console.
// They say what to do on the device's own platform.

func byPlatform(platform, macos, windows, linux, other string) string {
	switch platform {
	case "macos":
		return macos
	case "windows":
		return windows
	case "linux":
		return linux
	}
	return other
}

func remedyDisk(pl string) string {
	return byPlatform(pl,
		"Turn on FileVault: System Settings › Privacy & Security › FileVault.",
		"Turn on BitLocker for the system drive: Settings › Privacy & security › Device encryption (or Control Panel › BitLocker Drive Encryption).",
		"The root volume must be on LUKS full-disk encryption; this usually means reinstalling with \"Encrypt the disk\" selected. Ask IT for help.",
		"Turn on the device's storage encryption in its security settings.")
}

func remedyOS(pl string) string {
	return byPlatform(pl,
		"Update macOS: System Settings › General › Software Update.",
		"Update Windows: Settings › Windows Update, then restart.",
		"Upgrade to a supported release of your distribution (for example do-release-upgrade on Ubuntu).",
		"Install the latest system update.")
}

func remedyUpdates(pl string) string {
	return byPlatform(pl,
		"Install the pending updates: System Settings › General › Software Update.",
		"Install the pending updates: Settings › Windows Update, then restart.",
		"Install the pending security updates (sudo apt upgrade, sudo dnf upgrade --security or sudo zypper patch).",
		"Install the pending security updates.")
}

func remedyScreenLock(pl string) string {
	return byPlatform(pl,
		"Set the screen to lock after inactivity: System Settings › Lock Screen, and require a password immediately.",
		"Set the screen to lock after inactivity: Settings › Accounts › Sign-in options.",
		"Turn on automatic screen lock: Settings › Privacy & Security › Screen Lock (GNOME), with a short blank-screen delay.",
		"Set the screen to lock automatically after a short delay.")
}

func remedyFirewall(pl string) string {
	return byPlatform(pl,
		"Turn on the firewall: System Settings › Network › Firewall.",
		"Turn on Windows Defender Firewall for every network profile: Windows Security › Firewall & network protection.",
		"Turn on a host firewall, for example: sudo ufw enable (Ubuntu) or sudo systemctl enable --now firewalld (Fedora/RHEL).",
		"Turn on the device's firewall.")
}

func remedyAntivirus(pl string) string {
	return byPlatform(pl,
		"Make sure your organization's endpoint protection is installed and running.",
		"Turn on real-time protection: Windows Security › Virus & threat protection.",
		"Make sure your organization's endpoint protection is installed and running.",
		"Install and start your organization's endpoint protection.")
}

func remedyRooted(pl string) string {
	return byPlatform(pl,
		"Re-enable System Integrity Protection: restart into Recovery, open Terminal and run csrutil enable.",
		"Contact IT: the device reports a compromised system.",
		"Contact IT: the device reports a compromised system.",
		"Restore the device's original system software (remove root or jailbreak) or contact IT.")
}

func remedyAgent(string) string {
	return "Update the Portier agent to the version your organization requires."
}

func remedyForbidden(string) string {
	return "Uninstall the applications listed; your organization does not allow them on this device."
}

func remedyRequired(string) string {
	return "Install the applications listed from your organization's software catalog."
}

func remedyCheckin(string) string {
	return "Turn the device on, connect it to the network and make sure the Portier agent is running (portier agent run --once sends a report now)."
}

func remedySecureBoot(pl string) string {
	return byPlatform(pl, "macOS does not report Secure Boot to Portier: ask IT to scope the secure_boot check to Linux and Windows.",
		"Turn on Secure Boot in the UEFI firmware settings (Settings › System › Recovery › Advanced startup › UEFI Firmware Settings).",
		"Turn on Secure Boot in the UEFI firmware settings; signed kernels and shim are needed.",
		"Turn on Secure Boot in the device's firmware settings.")
}

func remedyPolicy(string) string {
	return "No compliance policy applies to this device; ask IT to assign one."
}
