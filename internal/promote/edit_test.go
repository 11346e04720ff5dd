package promote

import "testing"

func TestSetChannelKeepsCommentsAndLayout(t *testing.T) {
	tests := []struct{ name, in, channel, version, want string }{
		{"block", `# Channels of web.
apiVersion: syncd.dev/v1alpha1
kind: Channels
metadata:
  name: web
spec:
  dev: 1.2.0 # newest
  # staging soaks a day
  staging: 1.1.0
  prod: 1.0.0
`, "prod", "1.1.0", `# Channels of web.
apiVersion: syncd.dev/v1alpha1
kind: Channels
metadata:
  name: web
spec:
  dev: 1.2.0 # newest
  # staging soaks a day
  staging: 1.1.0
  prod: 1.1.0
`},
		{"flow", "kind: Channels\nspec: {dev: 1.2.0, staging: 1.1.0}\n", "staging", "1.2.0",
			"kind: Channels\nspec: {dev: 1.2.0, staging: 1.2.0}\n"},
		{"missing channel appended", "kind: Channels\nspec:\n  dev: 1.2.0\n", "staging", "1.2.0",
			"kind: Channels\nspec:\n  dev: 1.2.0\n  staging: 1.2.0\n"},
		{"quoted version stays quoted", "spec:\n  dev: \"1.2.0\"\n", "dev", "1.3.0", "spec:\n  dev: \"1.3.0\"\n"},
	}
	for _, tt := range tests {
		got, err := SetChannel([]byte(tt.in), tt.channel, tt.version)
		if err != nil || string(got) != tt.want {
			t.Errorf("%s: SetChannel =\n%s (%v)\nwant\n%s", tt.name, got, err, tt.want)
		}
	}
	if _, err := SetChannel([]byte("spec: [a]\n"), "dev", "1"); err == nil {
		t.Error("SetChannel on a spec that is not a mapping succeeded")
	}
}

func TestMarkRecalled(t *testing.T) {
	got, err := MarkRecalled([]byte(`apiVersion: syncd.dev/v1alpha1
kind: Release
metadata:
  name: web-1.2.0
  labels: {qa: passed} # signed off by QA
spec:
  recalled: false
`), "web", "1.2.0", "c1 ERROR 2m")
	want := `apiVersion: syncd.dev/v1alpha1
kind: Release
metadata:
  name: web-1.2.0
  labels: {qa: passed} # signed off by QA
spec:
  recalled: true
  reason: c1 ERROR 2m
`
	if err != nil || string(got) != want {
		t.Errorf("MarkRecalled =\n%s (%v)\nwant\n%s", got, err, want)
	}
	got, err = MarkRecalled(nil, "web", "1.2.0", "broken: yes")
	want = "apiVersion: syncd.dev/v1alpha1\nkind: Release\nmetadata:\n  name: web-1.2.0\nspec:\n  recalled: true\n  reason: 'broken: yes'\n"
	if err != nil || string(got) != want {
		t.Errorf("MarkRecalled(new) =\n%s (%v)\nwant\n%s", got, err, want)
	}
}
