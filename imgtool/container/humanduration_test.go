package container

import (
	"testing"
	"time"
)

// The words podman 4.3 prints in ps STATUS and images/history CREATED
// (checked against it: "Up Less than a second ago", "56 years ago" for
// an image made at the epoch). Before, myimg said "0 seconds" and
// "20790 days ago".
func TestHumanDuration(t *testing.T) {
	day := 24 * time.Hour
	for d, want := range map[time.Duration]string{
		0:                      "Less than a second",
		time.Second:            "1 second",
		59 * time.Second:       "59 seconds",
		90 * time.Second:       "About a minute",
		59 * time.Minute:       "59 minutes",
		80 * time.Minute:       "About an hour",
		47 * time.Hour:         "47 hours",
		13 * day:               "13 days",
		15 * day:               "2 weeks",
		59 * day:               "8 weeks",
		61 * day:               "2 months",
		729 * day:              "24 months",
		20790 * day:            "56 years",
		730*day + 12*time.Hour: "2 years",
	} {
		if got := HumanDuration(d); got != want {
			t.Errorf("HumanDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
