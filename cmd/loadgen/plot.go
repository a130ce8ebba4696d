package main

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

var (
	blue = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	red  = color.RGBA{R: 214, G: 39, B: 40, A: 255}
	grey = color.RGBA{R: 127, G: 127, B: 127, A: 255}
)

// plotLatencyCDF writes latency_cdf.png: the share of alarms delivered
// within a latency, latency on a log axis.
func plotLatencyCDF(dir string, h *hist, o *latencyOpts) error {
	pts := h.CDF()
	if len(pts) == 0 {
		return nil
	}
	xy := make(plotter.XYs, 0, len(pts))
	for _, p := range pts {
		xy = append(xy, plotter.XY{X: max(0.001, float64(p.Value)/1e6), Y: p.Fraction})
	}
	s := h.Summary()
	p := plot.New()
	p.Title.Text = fmt.Sprintf("publish → receive latency, %d conns on %d nodes, %.0f alarms/s (p50 %s, p99 %s, p999 %s)",
		o.conns, o.nodes, o.rate, fmtDur(s.P50), fmtDur(s.P99), fmtDur(s.P999))
	p.X.Label.Text = "latency (ms, log scale)"
	p.Y.Label.Text = "share of alarms delivered within"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Y.Min, p.Y.Max = 0, 1
	lo, hi := decades(xy[0].X, xy[len(xy)-1].X)
	line, err := plotter.NewLine(xy)
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	line.Color, line.Width = blue, vg.Points(1.5)
	p.Add(plotter.NewGrid(), line)
	for _, q := range []float64{0.5, 0.99, 0.999} {
		ref, _ := plotter.NewLine(plotter.XYs{{X: lo, Y: q}, {X: hi, Y: q}})
		ref.Color, ref.Dashes = grey, []vg.Length{vg.Points(3), vg.Points(3)}
		p.Add(ref)
	}
	p.X.Min, p.X.Max = lo, hi
	tail, err := tailPlot(xy, lo, hi)
	if err != nil {
		return err
	}
	return savePlots(filepath.Join(dir, "latency_cdf.png"), 9*vg.Inch, 8*vg.Inch, p, tail)
}

// tailPlot draws the share of alarms slower than each latency on log-log
// axes, where p99 and p999 are visible.
func tailPlot(cdf plotter.XYs, lo, hi float64) (*plot.Plot, error) {
	var xy plotter.XYs
	for _, pt := range cdf {
		if pt.Y < 1 {
			xy = append(xy, plotter.XY{X: pt.X, Y: 1 - pt.Y})
		}
	}
	p := plot.New()
	p.X.Label.Text = "latency (ms, log scale)"
	p.Y.Label.Text = "share of alarms slower than (log scale)"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = plot.LogTicks{Prec: -1}, plot.LogTicks{Prec: -1}
	p.X.Min, p.X.Max = lo, hi
	p.Y.Min, p.Y.Max = 1e-4, 1
	p.Add(plotter.NewGrid())
	if len(xy) == 0 {
		return p, nil
	}
	line, err := plotter.NewLine(xy)
	if err != nil {
		return nil, fmt.Errorf("plot: %w", err)
	}
	line.Color, line.Width = blue, vg.Points(1.5)
	p.Add(line)
	return p, nil
}

// plotFanout writes fanout_ramp.png: deliveries per second and latency
// quantiles against the publish rate of each ramp step.
func plotFanout(dir string, steps []stepResult, o *fanoutOpts) error {
	if len(steps) == 0 {
		return nil
	}
	var thr, p50, p99, ideal plotter.XYs
	for _, r := range steps {
		if r.Retried {
			continue // the repeat at the same rate is plotted
		}
		thr = append(thr, plotter.XY{X: r.Rate, Y: r.PerSec / 1000})
		ideal = append(ideal, plotter.XY{X: r.Rate, Y: r.Rate * float64(o.conns) / 1000})
		p50 = append(p50, plotter.XY{X: r.Rate, Y: max(0.01, ms(r.Lat.P50))})
		p99 = append(p99, plotter.XY{X: r.Rate, Y: max(0.01, ms(r.Lat.P99))})
	}
	top := plot.New()
	top.Title.Text = fmt.Sprintf("fanout ramp: %d connections on one channel, %d-byte alarms, %v steps", o.conns, o.size, o.step)
	top.Y.Label.Text = "deliveries/s (thousands)"
	top.X.Label.Text = "published alarms/s"
	if err := addLines(top, []plotter.XYs{ideal, thr}, []string{"ideal (rate × conns)", "delivered"}, []color.Color{grey, blue}); err != nil {
		return err
	}
	bottom := plot.New()
	bottom.Y.Label.Text = "latency (ms, log scale)"
	bottom.X.Label.Text = "published alarms/s"
	bottom.Y.Scale = plot.LogScale{}
	bottom.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	if err := addLines(bottom, []plotter.XYs{p50, p99}, []string{"p50", "p99"}, []color.Color{blue, red}); err != nil {
		return err
	}
	limit, err := plotter.NewLine(plotter.XYs{{X: steps[0].Rate, Y: ms(o.maxP99)}, {X: steps[len(steps)-1].Rate, Y: ms(o.maxP99)}})
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	limit.Color, limit.Dashes = grey, []vg.Length{vg.Points(3), vg.Points(3)}
	bottom.Add(limit)
	bottom.Legend.Add("p99 limit", limit)
	bottom.Y.Min, bottom.Y.Max = decades(bottom.Y.Min, max(bottom.Y.Max, ms(o.maxP99)))
	ticks := rateTicks(steps)
	for _, p := range []*plot.Plot{top, bottom} {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = ticks
	}
	return savePlots(filepath.Join(dir, "fanout_ramp.png"), 9*vg.Inch, 8*vg.Inch, top, bottom)
}

// decades widens [lo, hi] to whole powers of ten, so a log axis has
// labelled ticks.
func decades(lo, hi float64) (float64, float64) {
	return math.Pow(10, math.Floor(math.Log10(lo))), math.Pow(10, math.Ceil(math.Log10(hi)))
}

// rateTicks labels each ramp step's rate.
func rateTicks(steps []stepResult) plot.ConstantTicks {
	var t plot.ConstantTicks
	for _, r := range steps {
		if r.Retried {
			continue
		}
		t = append(t, plot.Tick{Value: r.Rate, Label: formatTick(r.Rate)})
	}
	return t
}

func formatTick(v float64) string {
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// addLines adds one line with points per series, with a legend.
func addLines(p *plot.Plot, series []plotter.XYs, names []string, colors []color.Color) error {
	p.Add(plotter.NewGrid())
	p.Legend.Top, p.Legend.Left = true, true
	for i, s := range series {
		l, pts, err := plotter.NewLinePoints(s)
		if err != nil {
			return fmt.Errorf("plot: %w", err)
		}
		l.Color, pts.Color = colors[i], colors[i]
		p.Add(l, pts)
		p.Legend.Add(names[i], l, pts)
	}
	return nil
}

// savePlots draws the plots stacked vertically into one PNG.
func savePlots(path string, w, h vg.Length, plots ...*plot.Plot) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	img := vgimg.New(w, h)
	dc := draw.New(img)
	rows := make([][]*plot.Plot, len(plots))
	for i, p := range plots {
		rows[i] = []*plot.Plot{p}
	}
	tiles := draw.Tiles{Rows: len(plots), Cols: 1, PadX: vg.Millimeter, PadY: 4 * vg.Millimeter,
		PadTop: 2 * vg.Millimeter, PadBottom: 2 * vg.Millimeter, PadLeft: 2 * vg.Millimeter, PadRight: 4 * vg.Millimeter}
	canvases := plot.Align(rows, tiles, dc)
	for i, p := range plots {
		p.Draw(canvases[i][0])
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("plot: %w", err)
	}
	return f.Close()
}
