package runcerrnoret

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/relapse-dev/relapse/harness/report"
)

// KindErrnoRetIgnored names the finding: a rule with errnoRet could not be
// added to the filter because, without its errno, it equals the default.
const KindErrnoRetIgnored = "seccomp-errnoret-ignored"

// ruleFailure matches runc's message for a rule libseccomp refused, in the
// wordings runc has used ("error adding seccomp filter rule for syscall X:
// E", "error adding seccomp rule for syscall X: E").
var ruleFailure = regexp.MustCompile(`error adding seccomp (?:filter )?rule for syscall ([a-z0-9_]+): ([^"\n]+)`)

// classifySeccompLoad decides whether a failed start failed while runc
// added one of the errnoRet rules to the seccomp filter. The message
// libseccomp's refusal ends with differs by version (EPERM before 2.5,
// EACCES since; libseccomp-golang before 0.9.2 knows only the first as
// "requested action matches default action of filter"), so the decision
// rests on which rule failed, not on that text.
//
// A rule whose errnoRet is EPERM itself fails on affected and fixed runc
// alike until v1.0.2 (it equals the default action even with its errno:
// cri-o#5117, a different bug); only a rule with another errno tells the
// two apart. When the failure is not this bug, notThis says why.
func classifySeccompLoad(output string, errnoRules []specs.LinuxSyscall) (f report.Finding, notThis string, ok bool) {
	m := ruleFailure.FindStringSubmatch(output)
	if m == nil {
		return report.Finding{}, "runc's output names no seccomp rule it failed to add", false
	}
	syscall, why := m[1], strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(m[2]), ": unknown"))
	var rule *specs.LinuxSyscall
	for i := range errnoRules {
		if slices.Contains(errnoRules[i].Names, syscall) {
			rule = &errnoRules[i]
		}
	}
	if rule == nil {
		return report.Finding{}, fmt.Sprintf("the rule runc failed to add (%s) carries no errnoRet", syscall), false
	}
	if *rule.ErrnoRet == eperm {
		return report.Finding{}, fmt.Sprintf("runc failed adding the %s rule, whose errnoRet is EPERM: it equals the default action with or without errnoRet, "+
			"which is cri-o#5117 (redundant rules, skipped since runc v1.0.2), not this bug", syscall), false
	}
	reasons := []string{
		fmt.Sprintf("runc failed adding the rule for %s while loading the container's seccomp filter: %q", syscall, m[0]),
		fmt.Sprintf("that rule is %s -> %s with errnoRet %d, and the profile's default action is %s (EPERM): without its errnoRet the rule is the default action, which libseccomp refuses",
			syscall, rule.Action, *rule.ErrnoRet, rule.Action),
	}
	switch {
	case strings.Contains(why, "matches default action"):
		reasons = append(reasons, "libseccomp's own words: "+why)
	case strings.Contains(why, "permission denied"):
		reasons = append(reasons, "\"permission denied\" is libseccomp 2.5's EACCES for a rule equal to the default action, which the libseccomp-golang of old runc releases does not translate")
	default:
		reasons = append(reasons, "libseccomp's refusal: "+why)
	}
	now := time.Now().UTC()
	return report.Finding{
		Detector: "seccomp-load",
		Kind:     KindErrnoRetIgnored,
		Summary: fmt.Sprintf("runc could not load the container's seccomp filter: the %s rule's errnoRet %d was dropped, leaving a rule equal to the default action",
			syscall, *rule.ErrnoRet),
		Reasons: reasons,
		At:      now,
		OnsetAt: now,
		Samples: 1,
	}, "", true
}

// eperm is the errno of SCMP_ACT_ERRNO without errnoRet in runc.
const eperm = 1
