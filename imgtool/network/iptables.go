package network

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
)

// Rule is one iptables rule; Args are the match and target after the
// chain. Every rule we add carries a comment naming its owner, so a
// cleanup can find rules even when the record of them was lost.
type Rule struct {
	Table string   `json:"table"`
	Chain string   `json:"chain"`
	Args  []string `json:"args"`
}

// IPTables is the iptables binary (iptables-nft on Debian 12).
var IPTables = "iptables"

func iptables(args ...string) error {
	// -w: wait for the xtables lock instead of failing.
	out, err := exec.Command(IPTables, append([]string{"-w"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", IPTables, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

func (r Rule) spec(op string) []string {
	return append([]string{"-t", r.Table, op, r.Chain}, r.Args...)
}

// Exists reports whether the rule is in its chain.
func (r Rule) Exists() bool { return iptables(r.spec("-C")...) == nil }

// Append adds the rule at the end of its chain unless it is there.
func (r Rule) Append() error {
	if r.Exists() {
		return nil
	}
	return iptables(r.spec("-A")...)
}

// Insert adds the rule at the top of its chain unless it is there.
func (r Rule) Insert() error {
	if r.Exists() {
		return nil
	}
	return iptables(r.spec("-I")...)
}

// Delete removes every copy of the rule; a missing rule is not an error.
func (r Rule) Delete() error {
	for i := 0; i < 16 && r.Exists(); i++ {
		if err := iptables(r.spec("-D")...); err != nil {
			return err
		}
	}
	return nil
}

// DeleteByComment removes every rule in table whose comment is exactly
// comment (found with iptables -S, so it works without any record).
func DeleteByComment(table, comment string) error {
	out, err := exec.Command(IPTables, "-w", "-t", table, "-S").Output()
	if err != nil {
		return fmt.Errorf("%s -t %s -S: %w", IPTables, table, err)
	}
	var errs []string
	for _, line := range strings.Split(string(out), "\n") {
		f := splitRuleLine(line)
		if len(f) < 2 || f[0] != "-A" || !hasComment(f, comment) {
			continue
		}
		if err := iptables(append([]string{"-t", table, "-D"}, f[1:]...)...); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// RulesWithComment lists the -S lines of table that carry comment.
func RulesWithComment(table, comment string) ([]string, error) {
	out, err := exec.Command(IPTables, "-w", "-t", table, "-S").Output()
	if err != nil {
		return nil, err
	}
	var res []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := splitRuleLine(line); len(f) > 1 && hasComment(f, comment) {
			res = append(res, line)
		}
	}
	return res, nil
}

func hasComment(f []string, comment string) bool {
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "--comment" && f[i+1] == comment {
			return true
		}
	}
	return false
}

// splitRuleLine splits an iptables -S line into words, honouring the
// double quotes iptables puts around comments with spaces.
func splitRuleLine(line string) []string {
	var out []string
	var cur strings.Builder
	inq, have := false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\\' && inq && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
		case c == '"':
			inq, have = !inq, true
		case c == ' ' && !inq:
			if have {
				out = append(out, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteByte(c)
			have = true
		}
	}
	if have {
		out = append(out, cur.String())
	}
	return out
}

// Comment tags rules that belong to one container.
func Comment(id string) string { return "myimg:" + id }

// NetComment tags the rules shared by every container on a bridge.
func NetComment(bridge string) string { return "myimg-net:" + bridge }
