//go:build integration

package integration

import "os"

// Every state save of the myrun under test checks that state.json's config
// bytes say what the config says (libcontainer/state.CheckConfigJSONEnv):
// a spec change that keeps config.json's stale bytes fails the test.
func init() { os.Setenv("_MYRUN_CHECK_CONFIG_JSON", "1") }
