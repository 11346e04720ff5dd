package fleet

import (
	"os"
	"path/filepath"
	"testing"
)

// The fuzz targets feed arbitrary bytes to each decoder and check that it
// never panics and always explains a rejection. Seeds are the example repo's
// files.

// fuzzRefs are the names of the example repo, for cross-reference checks.
func fuzzRefs(f *testing.F) *refs {
	repo := loadExample(f)
	r := &refs{
		channels:     map[string]int{},
		channelOrder: repo.Fleet.Spec.Channels,
		products:     map[string]bool{},
		sites:        map[string]bool{},
		keys:         map[string]bool{},
	}
	for i, ch := range repo.Fleet.Spec.Channels {
		r.channels[ch] = i
	}
	for name := range repo.Products {
		r.products[name] = true
	}
	for name := range repo.Sites {
		r.sites[name] = true
	}
	for name := range repo.Keys {
		r.keys[name] = true
	}
	return r
}

// addSeeds adds the example repo files matching pattern to the corpus.
func addSeeds(f *testing.F, pattern string) {
	files, err := filepath.Glob(filepath.Join(exampleRepo, pattern))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed files match %s: %v", pattern, err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("apiVersion: syncd.dev/v1alpha1\nkind: X\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("{"))
}

// checkResult fails unless a decoder either returned an object without
// problems or reported at least one problem, each naming the file.
func checkResult(t *testing.T, decoded bool, d *document, file string) {
	t.Helper()
	if !decoded && d.ok() {
		t.Fatal("decoder returned nothing and reported no problem")
	}
	for _, e := range d.errs {
		if e.File != file || e.Line < 0 || e.Msg == "" {
			t.Fatalf("malformed problem %#v", e)
		}
		_ = e.Error()
	}
}

func FuzzDecodeFleet(f *testing.F) {
	addSeeds(f, "fleet.yaml")
	r := fuzzRefs(f)
	envs, err := newCELEnvs()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fl, d := decodeFleet("fleet.yaml", data, r, envs)
		checkResult(t, fl != nil, d, "fleet.yaml")
		if fl != nil && d.ok() {
			for i := range fl.Spec.Pipelines {
				_ = fl.PipelineFor(fl.Spec.Pipelines[i].Product)
			}
		}
	})
}

func FuzzDecodeSite(f *testing.F) {
	addSeeds(f, "sites/*/site.yaml")
	r := fuzzRefs(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		const file = "sites/edge-store-042/site.yaml"
		s, d := decodeSite(file, "edge-store-042", data, r)
		checkResult(t, s != nil, d, file)
	})
}

func FuzzDecodeProduct(f *testing.F) {
	addSeeds(f, "products/*/product.yaml")
	r := fuzzRefs(f)
	envs, err := newCELEnvs()
	if err != nil {
		f.Fatal(err)
	}
	site := &Site{ObjectMeta: ObjectMeta{Name: "edge-store-042", Labels: map[string]string{"type": "edge"}}}
	f.Fuzz(func(t *testing.T, data []byte) {
		const file = "products/auth-service/product.yaml"
		p, d := decodeProduct(file, "auth-service", data, r, envs)
		checkResult(t, p != nil, d, file)
		if p != nil && d.ok() {
			_, _ = p.TargetsSite(site) // must not panic; errors are fine
		}
	})
}

func FuzzDecodeChannels(f *testing.F) {
	addSeeds(f, "channels/*.yaml")
	r := fuzzRefs(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		const file = "channels/auth-service.yaml"
		c, d := decodeChannels(file, "auth-service", data, r)
		checkResult(t, c != nil, d, file)
	})
}

func FuzzDecodeRelease(f *testing.F) {
	addSeeds(f, "products/*/releases/*/release.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		const file = "products/auth-service/releases/5.2.0/release.yaml"
		rel, d := decodeRelease(file, "auth-service", "5.2.0", data)
		checkResult(t, rel != nil, d, file)
	})
}
