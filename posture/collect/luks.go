package collect

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"
)

// BlockDevice is one node of `lsblk -J` output.
type BlockDevice struct {
	Name        string        `json:"name"`
	KName       string        `json:"kname"`
	Type        string        `json:"type"`
	FSType      *string       `json:"fstype"`
	MountPoint  *string       `json:"mountpoint"`
	MountPoints []*string     `json:"mountpoints"`
	Children    []BlockDevice `json:"children"`
}

// mountedAt reports whether the device is mounted at dir.
func (d BlockDevice) mountedAt(dir string) bool {
	if d.MountPoint != nil && *d.MountPoint == dir {
		return true
	}
	for _, m := range d.MountPoints {
		if m != nil && *m == dir {
			return true
		}
	}
	return false
}

func (d BlockDevice) fstype() string {
	if d.FSType == nil {
		return ""
	}
	return *d.FSType
}

// ParseLsblk parses `lsblk -J` (any columns; MOUNTPOINT or MOUNTPOINTS).
func ParseLsblk(data []byte) ([]BlockDevice, error) {
	var doc struct {
		BlockDevices *[]BlockDevice `json:"blockdevices"`
	}
	if err := json.Unmarshal([]byte(normalizeText(data)), &doc); err != nil {
		return nil, fmt.Errorf("lsblk -J: %w: %v", ErrUnrecognized, err)
	}
	if doc.BlockDevices == nil {
		return nil, unrecognized("lsblk -J", "no blockdevices")
	}
	return *doc.BlockDevices, nil
}

// RootEncryption is what the block-device tree says about the root volume.
type RootEncryption struct {
	// Device is the device mounted at "/".
	Device string
	// Encrypted is true when "/" sits on a dm-crypt mapping.
	Encrypted bool
	// CryptName and CryptKName name that mapping (e.g.
	// /dev/mapper/luks-…, /dev/dm-0).
	CryptName, CryptKName string
	// Method is "luks" when the mapping's parent is crypto_LUKS (version
	// unknown yet) or "dm-crypt" otherwise; empty when not encrypted.
	Method string
}

// FindRootEncryption finds the device mounted at "/" and walks up its
// ancestors for a crypt mapping: TYPE "crypt", or, when the TYPE column is
// absent, a child of a crypto_LUKS device. When several devices hold "/"
// (multi-device file systems) all must be encrypted. Root missing from the
// tree (containers, network root) is an error, never "not encrypted".
func FindRootEncryption(devs []BlockDevice) (RootEncryption, error) {
	var found []RootEncryption
	var walk func(d BlockDevice, chain []BlockDevice, depth int)
	walk = func(d BlockDevice, chain []BlockDevice, depth int) {
		if depth > 64 {
			return
		}
		chain = append(chain, d)
		if d.mountedAt("/") {
			found = append(found, rootFromChain(chain))
		}
		for _, c := range d.Children {
			walk(c, chain, depth+1)
		}
	}
	for _, d := range devs {
		walk(d, nil, 0)
	}
	if len(found) == 0 {
		return RootEncryption{}, fmt.Errorf("lsblk: no block device is mounted at /")
	}
	for _, r := range found {
		if !r.Encrypted {
			return r, nil
		}
	}
	return found[0], nil
}

// rootFromChain inspects the path from a top-level device to "/".
func rootFromChain(chain []BlockDevice) RootEncryption {
	leaf := chain[len(chain)-1]
	r := RootEncryption{Device: leaf.Name}
	for i := len(chain) - 1; i >= 0; i-- {
		d := chain[i]
		parentLUKS := i > 0 && chain[i-1].fstype() == "crypto_LUKS"
		if d.Type == "crypt" || (d.Type == "" && parentLUKS) {
			r.Encrypted = true
			r.CryptName, r.CryptKName = d.Name, d.KName
			r.Method = "dm-crypt"
			if parentLUKS {
				r.Method = "luks"
			}
			return r
		}
	}
	return r
}

// CryptStatus is the parsed output of `cryptsetup status NAME`.
type CryptStatus struct {
	Device  string // the mapping, e.g. /dev/mapper/root
	Active  bool
	InUse   bool
	Type    string // LUKS1, LUKS2, PLAIN, TCRYPT, BITLK…
	Cipher  string
	KeySize string
	Backing string // "device:" line
}

// ParseCryptsetupStatus parses `cryptsetup status NAME` (LC_ALL=C).
func ParseCryptsetupStatus(data []byte) (CryptStatus, error) {
	lines := textLines(data)
	if len(lines) == 0 {
		return CryptStatus{}, unrecognized("cryptsetup status", "")
	}
	head := strings.TrimSpace(lines[0])
	var st CryptStatus
	switch {
	case strings.HasSuffix(head, " is active and is in use."):
		st.Device, st.Active, st.InUse = strings.TrimSuffix(head, " is active and is in use."), true, true
	case strings.HasSuffix(head, " is active."):
		st.Device, st.Active = strings.TrimSuffix(head, " is active."), true
	case strings.HasSuffix(head, " is inactive."):
		st.Device = strings.TrimSuffix(head, " is inactive.")
	case strings.HasPrefix(head, "Device ") && strings.HasSuffix(head, " not found"):
		return CryptStatus{}, fmt.Errorf("cryptsetup status: %s", head)
	default:
		return CryptStatus{}, unrecognized("cryptsetup status", head)
	}
	if st.Device == "" || strings.ContainsAny(st.Device, " \t") {
		return CryptStatus{}, unrecognized("cryptsetup status", head)
	}
	for _, l := range lines[1:] {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch strings.TrimSpace(k) {
		case "type":
			st.Type = v
		case "cipher":
			st.Cipher = v
		case "keysize":
			st.KeySize = v
		case "device":
			st.Backing = v
		}
	}
	if st.Active && st.Type == "" {
		return CryptStatus{}, unrecognized("cryptsetup status", "active mapping without a type line")
	}
	return st, nil
}

// ParseDMUUID reads the crypt type from a device-mapper UUID
// (/sys/block/dm-N/dm/uuid): "CRYPT-LUKS2-<uuid>-<name>" → "LUKS2".
// It returns "" for a mapping that is not dm-crypt (LVM-…, mpath-…).
func ParseDMUUID(data []byte) (string, error) {
	lines := textLines(data)
	if len(lines) != 1 {
		return "", unrecognized("dm uuid", string(data))
	}
	u := strings.TrimSpace(lines[0])
	if !strings.HasPrefix(u, "CRYPT-") {
		return "", nil
	}
	typ, _, ok := strings.Cut(strings.TrimPrefix(u, "CRYPT-"), "-")
	if !ok || typ == "" {
		return "", unrecognized("dm uuid", u)
	}
	return typ, nil
}

// cryptMethod turns a cryptsetup/dm type into disk.encryption_method.
func cryptMethod(typ string) string {
	switch strings.ToUpper(typ) {
	case "LUKS1":
		return "luks1"
	case "LUKS2":
		return "luks2"
	case "PLAIN":
		return "dm-crypt-plain"
	case "":
		return "dm-crypt"
	}
	return "dm-crypt-" + strings.ToLower(typ)
}

// dmSysfsUUIDPath is where the kernel shows a dm device's UUID.
func dmSysfsUUIDPath(kname string) string {
	return "sys/block/" + path.Base(kname) + "/dm/uuid"
}
