# Installs the Portier device agent as a Windows service (run as Administrator).
#   .\install-agent.ps1 -Server https://portier.example.com -Code ABCDE-FGHJK-... -Fingerprint <SHA256>
# See docs/agent.md. Uninstall: sc.exe stop PortierAgent; sc.exe delete PortierAgent
# The service (LocalSystem) writes the Chrome/Edge AutoSelectCertificateForUrls
# policy under HKLM; it cannot import the device certificate into a person's
# Cert:\CurrentUser\My (see docs/agent.md, "Windows").
param(
    [Parameter(Mandatory = $true)][string]$Server,
    [Parameter(Mandatory = $true)][string]$Code,
    [string]$Fingerprint = "",
    [string]$Binary = "$env:ProgramFiles\Portier\portier.exe",
    [string]$StateDir = "$env:ProgramData\Portier\Agent"
)
$ErrorActionPreference = "Stop"

# The state dir holds the device key: SYSTEM and Administrators only.
New-Item -ItemType Directory -Force -Path $StateDir | Out-Null
icacls $StateDir /inheritance:r /grant:r "SYSTEM:(OI)(CI)F" "Administrators:(OI)(CI)F" | Out-Null

$enroll = @("agent", "enroll", "--server", $Server, "--code", $Code, "--state-dir", $StateDir)
if ($Fingerprint) { $enroll += @("--ca-fingerprint", $Fingerprint) }
& $Binary @enroll
if ($LASTEXITCODE -ne 0) { throw "enrollment failed ($LASTEXITCODE)" }

# The service runs `portier agent run`, which reports to the service manager.
sc.exe create PortierAgent binPath= "`"$Binary`" agent run --state-dir `"$StateDir`"" start= delayed-auto obj= LocalSystem DisplayName= "Portier device agent"
sc.exe description PortierAgent "Sends device posture to Portier, renews the device certificate and carries out remote actions."
# Restart after failures; exit 0 (unenrolled by a wipe) leaves it stopped.
sc.exe failure PortierAgent reset= 86400 actions= restart/60000/restart/60000/restart/300000
sc.exe failureflag PortierAgent 1
sc.exe start PortierAgent
