package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
)

// genPayload writes a deterministic tree of about mb MiB in n files: 100
// files per directory, mostly small files plus 1% big ones that carry the
// rest, content half random and half text so gzip has real work to do.
func genPayload(dir string, mb, n int) error {
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 1<<20)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	text := make([]byte, 0, 1<<20)
	words := []string{"container ", "runtime ", "layer ", "image ", "spec ", "cgroup ", "mount ", "namespace\n"}
	for len(text) < 1<<20 {
		text = append(text, words[rng.IntN(len(words))]...)
	}
	sizes := make([]int, n)
	total := mb << 20
	small := 0
	for i := range sizes {
		sizes[i] = 512 + rng.IntN(12<<10)
		small += sizes[i]
	}
	if big := n / 100; big > 0 && total > small {
		for i := 0; i < big; i++ {
			sizes[i*100+50] += (total - small) / big
		}
	}
	for i, sz := range sizes {
		d := filepath.Join(dir, fmt.Sprintf("d%03d", i/100))
		if i%100 == 0 {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return err
			}
		}
		buf := make([]byte, 0, sz)
		for off := 0; len(buf) < sz; off++ {
			src := text
			if off%2 == 0 {
				src = random
			}
			start := (i*7919 + off*4099) % (len(src) - 4096)
			chunk := src[start : start+4096]
			if rest := sz - len(buf); rest < len(chunk) {
				chunk = chunk[:rest]
			}
			buf = append(buf, chunk...)
		}
		if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("f%05d.dat", i)), buf, 0o644); err != nil {
			return err
		}
	}
	return nil
}
