package benchkit

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// Row is one line of the side-by-side table.
type Row struct {
	// Group names the workload the row belongs to ("4 KiB × 2000"); the ratios of a
	// group's rows are to its Reference row.
	Group string
	// Name says what was measured ("(a) raw copy loop, 16 concurrent").
	Name string
	// Reference marks the row the group's ratios are computed against.
	Reference bool
	// ObjectsPerSec and MBPerSec are the throughput; 0: not measured by this row.
	ObjectsPerSec, MBPerSec float64
	// P50 and P99 are latencies; 0: not measured by this row.
	P50, P99 time.Duration
	// Note is free text after the figures.
	Note string
}

// WriteTable writes rows as an aligned table: group, what, objects/s, MB/s, the ratio
// of objects/s to the group's reference row (a percentage), p50, p99, note. A figure
// that was not measured is "-".
func WriteTable(w io.Writer, rows []Row) error {
	ref := map[string]float64{}
	for _, r := range rows {
		if r.Reference {
			ref[r.Group] = r.ObjectsPerSec
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "workload\tmeasure\tobjects/s\tMB/s\tvs (a)\tp50\tp99\tnote")
	for _, r := range rows {
		ratio := "-"
		if base := ref[r.Group]; base > 0 && r.ObjectsPerSec > 0 {
			ratio = fmt.Sprintf("%.1f%%", 100*r.ObjectsPerSec/base)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Group, r.Name, figure(r.ObjectsPerSec), figure(r.MBPerSec),
			ratio, latency(r.P50), latency(r.P99), r.Note)
	}
	return tw.Flush()
}

func figure(v float64) string {
	switch {
	case v <= 0:
		return "-"
	case v < 10:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.0f", v)
	}
}

func latency(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < 10*time.Second:
		return d.Round(time.Millisecond).String()
	default:
		return d.Round(100 * time.Millisecond).String()
	}
}
