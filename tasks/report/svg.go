package report

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ErrNothingToChart is returned by SVG when the report has no image or
// binary with a size to draw.
var ErrNothingToChart = errors.New("compare report has no image or binary sizes to chart; measure at least one image or binary first")

// Chart geometry, in pixels. Labels sit left of the bars; each bar's value
// and a short note follow its end, so the bars stop well before the edge.
const (
	svgWidth    = 800
	svgMargin   = 24
	labelRight  = 188 // right edge of the bar labels
	barLeft     = 200
	barMaxWidth = 330
	barHeight   = 24
	barGap      = 10
	groupGap    = 18
	noteMaxLen  = 32 // characters of the note after a bar's value, so it ends inside 800px
	labelMaxLen = 22 // characters of a bar's label, so it starts inside the left margin
	titleMaxLen = 60 // characters of the visible title (the <title> element keeps it whole)
	imageColor  = "#2f6db5"
	binaryColor = "#d9822b"
)

// bar is one bar of the chart.
type bar struct {
	label, note string
	size        int64
}

// SVG returns a self-contained horizontal bar chart of the image sizes and
// the binary sizes on one scale, about 800px wide, titled
// "Image and binary sizes — <app> <version>", every bar labelled with its
// name and size in MB. It uses no external fonts, styles or scripts, and
// draws its own white background. It returns ErrNothingToChart when there
// is nothing to draw, and an error naming the entry when a size is negative.
func SVG(c Compare) ([]byte, error) {
	var images, binaries []bar
	for _, im := range c.Images {
		images = append(images, bar{label: im.Variant + " image", note: imageNote(im), size: im.Size})
	}
	for _, b := range c.Binaries {
		binaries = append(binaries, bar{label: b.Variant + " binary", note: binaryNote(b), size: b.Size})
	}
	var largest int64
	for _, b := range append(append([]bar(nil), images...), binaries...) {
		if b.size < 0 {
			return nil, fmt.Errorf("chart %s: size %d bytes is negative; sizes must be measured byte counts", b.label, b.size)
		}
		largest = max(largest, b.size)
	}
	if largest == 0 {
		return nil, ErrNothingToChart
	}
	step, top := scale(float64(largest) / 1e6)
	px := func(size int64) float64 {
		if size == 0 {
			return 0
		}
		// A bar too thin to see would read as "nothing measured".
		return max(2, float64(size)/1e6/top*barMaxWidth)
	}

	name := strings.TrimSpace(c.App + " " + c.Version)
	chartTitle := "Image and binary sizes"
	if name != "" {
		chartTitle += " — " + name
	}
	var sub []string
	if c.Platform != "" {
		sub = append(sub, c.Platform)
	}
	sub = append(sub, "shorter bar = smaller")
	if !c.GeneratedAt.IsZero() {
		sub = append(sub, "measured "+c.GeneratedAt.UTC().Format("2006-01-02"))
	}

	// Lay out the groups first: the grid spans them all.
	type group struct {
		heading string
		color   string
		bars    []bar
	}
	var groups []group
	if len(images) > 0 {
		groups = append(groups, group{"Container images", imageColor, images})
	}
	if len(binaries) > 0 {
		groups = append(groups, group{"Binaries", binaryColor, binaries})
	}
	y := 96
	gridTop := y
	var body bytes.Buffer
	var desc []string
	for gi, g := range groups {
		if gi > 0 {
			y += groupGap
		}
		fmt.Fprintf(&body, `  <text x="%d" y="%d" font-size="14" font-weight="bold" fill="#222">%s</text>`+"\n", svgMargin, y+14, esc(g.heading))
		y += 24
		for _, b := range g.bars {
			w := px(b.size)
			value := megabytes(b.size)
			desc = append(desc, b.label+" "+value)
			fmt.Fprintf(&body, `  <g>
    <title>%s: %s (%s bytes)</title>
    <text x="%d" y="%d" font-size="13" fill="#222" text-anchor="end">%s</text>
    <rect x="%d" y="%d" width="%s" height="%d" rx="3" fill="%s"/>
    <text x="%s" y="%d" font-size="13" fill="#222"><tspan font-weight="bold">%s</tspan><tspan fill="#666" font-size="11" dx="8">%s</tspan></text>
  </g>
`,
				esc(b.label), esc(value), groupDigits(b.size),
				labelRight, y+17, esc(truncate(b.label, labelMaxLen)),
				barLeft, y, num(w), barHeight, g.color,
				num(barLeft+w+8), y+17, esc(value), esc(truncate(b.note, noteMaxLen)))
			y += barHeight + barGap
		}
	}
	axisY := y
	var grid bytes.Buffer
	for v := 0.0; v <= top+step/2; v += step {
		x := barLeft + v/top*barMaxWidth
		fmt.Fprintf(&grid, `  <line x1="%s" y1="%d" x2="%s" y2="%d" stroke="#e3e3e3" stroke-width="1"/>`+"\n", num(x), gridTop, num(x), axisY)
		fmt.Fprintf(&grid, `  <text x="%s" y="%d" font-size="11" fill="#555" text-anchor="middle">%s</text>`+"\n", num(x), axisY+16, tick(v))
	}
	fmt.Fprintf(&grid, `  <line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#999" stroke-width="1"/>`+"\n", barLeft, axisY, barLeft+barMaxWidth, axisY)
	fmt.Fprintf(&grid, `  <text x="%d" y="%d" font-size="11" fill="#555" text-anchor="middle">size in MB (1 MB = 1,000,000 bytes)</text>`+"\n", barLeft+barMaxWidth/2, axisY+34)

	footY := axisY + 60
	height := footY + 20
	var out bytes.Buffer
	fmt.Fprintf(&out, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-labelledby="chart-title chart-desc" font-family="Helvetica, Arial, sans-serif">
  <title id="chart-title">%s</title>
  <desc id="chart-desc">%s</desc>
  <rect width="100%%" height="100%%" fill="#fff"/>
  <text x="%d" y="40" font-size="20" font-weight="bold" fill="#111">%s</text>
  <text x="%d" y="62" font-size="13" fill="#555">%s</text>
`, svgWidth, height, svgWidth, height, esc(chartTitle), esc(strings.Join(desc, ", ")),
		svgMargin, esc(truncate(chartTitle, titleMaxLen)), svgMargin, esc(strings.Join(sub, " · ")))
	out.Write(grid.Bytes())
	out.Write(body.Bytes())
	fmt.Fprintf(&out, `  <text x="%d" y="%d" font-size="11" fill="#555">Image size: uncompressed, as the Docker engine reports it. Binary size: the file on disk.</text>
</svg>
`, svgMargin, footY)
	return out.Bytes(), nil
}

// imageNote sums up an image beside its bar: "musl libc · shell · 2 layers".
func imageNote(im ImageFacts) string {
	libc := "no libc"
	if im.Libc != "" && im.Libc != "none" {
		libc = im.Libc + " libc"
	}
	shell := "no shell"
	if im.Shell {
		shell = "shell"
	}
	layers := fmt.Sprintf("%d layers", im.Layers)
	if im.Layers == 1 {
		layers = "1 layer"
	}
	return strings.Join([]string{libc, shell, layers}, " · ")
}

// binaryNote sums up a binary beside its bar: "dynamic · glibc".
func binaryNote(b BinaryFacts) string {
	var parts []string
	switch b.Linkage {
	case "":
	case "unknown":
		parts = append(parts, "linkage unknown")
	default:
		parts = append(parts, b.Linkage)
	}
	switch b.Libc {
	case "", "none":
		parts = append(parts, "no libc")
	case "unknown":
		parts = append(parts, "libc unknown")
	default:
		parts = append(parts, b.Libc)
	}
	return strings.Join(parts, " · ")
}

// scale picks a round tick step (1, 2, 2.5 or 5 times a power of ten) that
// divides the axis up to maxMB into at most six intervals, and the axis
// end, a multiple of it.
func scale(maxMB float64) (step, top float64) {
	raw := maxMB / 6
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step = 10 * mag
	for _, m := range []float64{1, 2, 2.5, 5} {
		if m*mag >= raw*(1-1e-9) {
			step = m * mag
			break
		}
	}
	top = math.Ceil(maxMB/step-1e-9) * step
	return step, top
}

// tick formats an axis value without float noise: 7.5, 10, 0.25.
func tick(v float64) string {
	return strconv.FormatFloat(math.Round(v*1000)/1000, 'f', -1, 64)
}

// num formats a coordinate with at most one decimal.
func num(v float64) string {
	return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64)
}

// truncate shortens s to n characters, ending in "…" when cut.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// esc escapes text for an XML text node or attribute.
func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s)) // writing to a strings.Builder cannot fail
	return b.String()
}
