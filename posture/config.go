package posture

import (
	"sync"
	"time"

	"github.com/portier/portier/config"
	"github.com/portier/portier/confyaml"
	"github.com/portier/portier/posture/collect"
	"github.com/portier/portier/store"
	"gopkg.in/yaml.v3"
)

// Config is the compiled `compliance:`, `privacy:` and `posture_sources:`
// configuration. It is immutable once built; the Engine swaps whole
// Configs on reload.
type Config struct {
	// Policies are the enforced compliance policies, in file order: the
	// ones that decide compliance, trust and escalation.
	Policies []*Policy
	// ReportOnly are the report-only policies: evaluated into each device's
	// would-be verdict (store.Device.Would), never acted on. Drafts are
	// validated and kept, never evaluated.
	ReportOnly []*Policy
	Drafts     []*Policy
	// Privacy holds the data profiles, location rules and retention.
	Privacy Privacy
	// Sources are the external posture sources by name.
	Sources map[string]*Source
	// DefaultCompliance is true when `compliance:` was absent and the
	// baseline policy applies.
	DefaultCompliance bool

	setsMu sync.RWMutex
	sets   map[setKey]*checkSet       // merged once per combination of policies
	profs  map[profileKey]DataProfile // every ownership's profile, built by Parse
	// shadow is this config with the report-only policies enforced (nil
	// when there are none): what the would-be verdict is computed with.
	shadow *Config
	// derived are this config as it applies to devices in rollout waves
	// (see ForWaves), by the set of report-only policies enforced; under
	// setsMu.
	derived map[string]*Config
}

// Policy is one compliance policy: who it applies to, what it checks and
// how it escalates.
type Policy struct {
	ID string
	// Mode is ModeDraft, ModeReportOnly or ModeEnforce (the default).
	Mode string
	// Rollout and EnforceFor are a report-only policy's `enforce_for`: the
	// rollout plan's id and the waves (as "<plan>/<wave>" keys) whose
	// people's devices have the policy enforced.
	Rollout     string
	EnforceFor  []string
	Description string
	// Assignment: a device gets the policy when it matches every filter
	// given (any listed value); an empty filter matches every device.
	Groups    []string
	Platforms []string
	Ownership []store.Ownership
	Checks    Checks
	// Grace is how long a device may fail before the ladder starts.
	Grace  time.Duration
	Ladder Ladder
	Line   int // where the policy is defined

	ownLine, ownCol int // where its ownership filter is, for cross-checks
}

// Checks are a policy's compliance requirements. Zero values mean "not
// checked", except the two update limits where -1 means not checked.
type Checks struct {
	MinOSVersion              map[string]string // by OS id (ubuntu, debian…) or platform (macos, windows…)
	MaxSecurityUpdateAgeDays  int64
	MaxPendingSecurityUpdates int64
	DiskEncryption            bool
	ScreenLockMaxMinutes      int64
	Firewall                  bool
	Antivirus                 bool
	NoRoot                    bool
	MinAgentVersion           string
	ForbiddenApps             []string // lower-case names or globs
	RequiredApps              []string
	MaxCheckinAge             time.Duration
	SecureBoot                bool
}

// Escalation step names, in ladder order. StepGrace is the state of a
// failing device before any step.
const (
	StepGrace      = "grace"
	StepNotify     = "notify"
	StepLowerTrust = "lower_trust"
	StepBlock      = "block"
	StepQuarantine = "quarantine"
)

// stepOrder ranks the steps; "" (compliant) ranks 0.
var stepOrder = [...]string{"", StepGrace, StepNotify, StepLowerTrust, StepBlock, StepQuarantine}

func stepRank(s string) int {
	for i, n := range stepOrder {
		if n == s {
			return i
		}
	}
	return 0
}

// Step is one rung of an escalation ladder: reached After the end of the grace period.
type Step struct {
	Name  string
	After time.Duration
}

// Ladder is an escalation ladder, steps in order.
type Ladder struct {
	Steps []Step
	// QueueSelectiveWipe queues a selective wipe when quarantine is reached.
	QueueSelectiveWipe bool
}

// Privacy is the compiled `privacy:` section.
type Privacy struct {
	// Profiles are the allowed signal names per ownership; ownerships
	// missing here (unmanaged) allow nothing.
	Profiles map[store.Ownership]collect.Allowed
	Location Location
	// Retention of the latest posture, of remote actions and of device history.
	Retention Retention
	// Contact is whom employees ask about their data (e.g. the DPO), shown in the notice.
	Contact string
}

// Location is where and when positions may be kept.
type Location struct {
	Enabled   bool
	Ownership []store.Ownership
	Purpose   string
	Hours     Hours
	Retention time.Duration
}

// Retention bounds how long posture data, actions and history are kept.
type Retention struct {
	Posture time.Duration
	Actions time.Duration
	Events  time.Duration
}

// Source is an external posture source (another MDM or an EDR).
type Source struct {
	Name string
	// Allowed is the source's allow-list: every signal but location when
	// the source does not set `signals:`.
	Allowed collect.Allowed
	// MaxAge is how long the source's observations count; older ones are ignored.
	MaxAge time.Duration
	secret []byte
}

// FromConfig compiles the posture sections of a loaded Portier config.
// Absent sections get the documented defaults.
func FromConfig(c *config.Config) (*Config, error) {
	return Parse(c.File, &c.Compliance, &c.Privacy, &c.PostureSources)
}

// Parse compiles the three sections; file names the config in errors and
// anchors relative secret_file paths. A nil or zero node is an absent
// section. Problems come back as an ErrorList naming file:line:col.
func Parse(file string, compliance, privacy, sources *yaml.Node) (*Config, error) {
	p := &parser{Walker: confyaml.Walker{File: file}}
	c := &Config{}
	c.Privacy = p.privacy(docContent(privacy))
	c.Policies, c.DefaultCompliance = p.compliance(docContent(compliance))
	c.Sources = p.sources(docContent(sources), file)
	p.crossCheck(c, docContent(compliance))
	if len(p.Errs) > 0 {
		return nil, p.Errs
	}
	c.profs = map[profileKey]DataProfile{}
	for _, o := range []store.Ownership{store.OwnershipCorporate, store.OwnershipCOPE, store.OwnershipBYOD, store.OwnershipUnmanaged} {
		for _, work := range []bool{false, true} {
			c.profs[profileKey{o, work}] = c.buildProfile(o, work)
		}
	}
	c.splitModes()
	return c, nil
}

// Default is the configuration with every section absent.
func Default() *Config {
	c, err := Parse("defaults", nil, nil, nil)
	if err != nil {
		panic("posture: built-in defaults do not parse: " + err.Error())
	}
	return c
}

func docContent(n *yaml.Node) *yaml.Node {
	if n != nil && n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil
		}
		return n.Content[0]
	}
	return n
}
