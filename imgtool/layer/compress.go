package layer

import (
	"bufio"
	"bytes"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Compression names accepted by --compression.
const (
	Gzip = "gzip"
	Zstd = "zstd"
	None = "none"
)

// MediaType is the OCI layer media type for a compression.
func MediaType(c string) (string, error) {
	switch c {
	case Gzip, "":
		return ocispec.MediaTypeImageLayerGzip, nil
	case Zstd:
		return ocispec.MediaTypeImageLayerZstd, nil
	case None:
		return ocispec.MediaTypeImageLayer, nil
	}
	return "", fmt.Errorf("unknown compression %q (want gzip, zstd or none)", c)
}

const (
	gzipBlock  = 1 << 20
	gzipBlocks = 4
	// gzipLevel: BestSpeed. On the 220 MB / 13,000-file bench layer it
	// compresses about twice as fast as the default level for a blob ~4%
	// larger (docs/benchmarks.md); gzip was most of a layer commit.
	gzipLevel = pgzip.BestSpeed
)

// CacheName names a compression with its encoder settings, for the build
// cache key: a layer cached under other settings has other bytes, so it
// is not reused for a build that would make it differently.
func CacheName(c string) string { return CacheNameLevel(c, 0) }

// CacheNameLevel is CacheName for a compression level (0: the default).
// It also names the compressed form of a layer in the records of
// package archive (a layer compressed for push or save).
func CacheNameLevel(c string, level int) string {
	switch {
	case (c == Gzip || c == "") && level == 0:
		return fmt.Sprintf("%s-%d", Gzip, gzipLevel)
	case c == "":
		return fmt.Sprintf("%s-%d", Gzip, level)
	case level != 0 && c != None:
		return fmt.Sprintf("%s-%d", c, level)
	}
	return c
}

// CheckLevel checks a --compression-level for compression c (0 is the
// default level, always allowed).
func CheckLevel(c string, level int) error {
	if level == 0 {
		return nil
	}
	switch c {
	case Gzip, "":
		if level >= 1 && level <= 9 {
			return nil
		}
		return fmt.Errorf("--compression-level %d: gzip levels are 1 to 9", level)
	case Zstd:
		if level >= 1 && level <= 22 {
			return nil
		}
		return fmt.Errorf("--compression-level %d: zstd levels are 1 to 22", level)
	}
	return fmt.Errorf("--compression-level %d: %q has no levels", level, c)
}

type nopWC struct{ io.Writer }

func (nopWC) Close() error { return nil }

// Compressor wraps w. The gzip header carries no name or time, so output
// depends only on input.
func Compressor(w io.Writer, c string) (io.WriteCloser, error) { return CompressorLevel(w, c, 0) }

// CompressorLevel is Compressor at a level (0: the default; see
// CheckLevel).
func CompressorLevel(w io.Writer, c string, level int) (io.WriteCloser, error) {
	if err := CheckLevel(c, level); err != nil {
		return nil, err
	}
	switch c {
	case Gzip, "":
		if level == 0 {
			level = gzipLevel
		}
		// Blocks are compressed in parallel (gzip was a third of a build,
		// on one core). The block size is fixed and the block count does
		// not change the bytes, so output stays the same on any machine.
		z, err := pgzip.NewWriterLevel(w, level)
		if err != nil {
			return nil, err
		}
		if err := z.SetConcurrency(gzipBlock, gzipBlocks); err != nil {
			return nil, err
		}
		return z, nil
	case Zstd:
		el := zstd.SpeedDefault
		if level != 0 {
			el = zstd.EncoderLevelFromZstd(level)
		}
		return zstd.NewWriter(w, zstd.WithEncoderLevel(el))
	case None:
		return nopWC{w}, nil
	}
	return nil, fmt.Errorf("unknown compression %q", c)
}

// Decompress sniffs the magic bytes (media types are not always honest)
// and returns the uncompressed stream.
func Decompress(r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	magic, _ := br.Peek(4)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		z, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return z, nil
	case bytes.Equal(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		z, err := zstd.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		return z.IOReadCloser(), nil
	}
	return io.NopCloser(br), nil
}
