//! Log-log SVG plots of time against size (plotters, SVG backend only).

use std::path::Path;

use plotters::prelude::*;

/// One line of a plot: a label and `(MiB, seconds)` points.
#[derive(Debug)]
pub struct Series {
    /// Legend text.
    pub label: String,
    /// `(size in MiB, seconds)`.
    pub points: Vec<(f64, f64)>,
}

const COLORS: [RGBColor; 6] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x7f, 0x7f, 0x7f),
];

/// Draw `series` on log-log axes into the SVG file `path`.
///
/// # Errors
/// The drawing backend's error, as text.
pub fn loglog(path: &Path, title: &str, y_desc: &str, series: &[Series]) -> Result<(), String> {
    let all = || series.iter().flat_map(|s| s.points.iter().copied());
    let pos = |v: f64| v.is_finite() && v > 0.0;
    let (xmin, xmax) = all()
        .filter(|p| pos(p.0))
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let (ymin, ymax) = all()
        .filter(|p| pos(p.1))
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
    if xmin > xmax || ymin > ymax {
        return Err(format!("{}: nothing to plot", path.display()));
    }
    let e = |e: DrawingAreaErrorKind<std::io::Error>| format!("{}: {e}", path.display());
    let root = SVGBackend::new(path, (860, 540)).into_drawing_area();
    root.fill(&WHITE).map_err(e)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(
            (xmin / 1.3..xmax * 1.3).log_scale(),
            (ymin / 2.0..ymax * 2.0).log_scale(),
        )
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc("file size (MiB)")
        .y_desc(y_desc)
        .y_label_formatter(&|v| format!("{v:.0e}"))
        .draw()
        .map_err(e)?;
    for (i, s) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let pts: Vec<(f64, f64)> = s
            .points
            .iter()
            .copied()
            .filter(|p| pos(p.0) && pos(p.1))
            .collect();
        chart
            .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
            .map_err(e)?
            .label(s.label.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart
            .draw_series(PointSeries::of_element(
                pts,
                3,
                color.filled(),
                &|c, s, st| Circle::new(c, s, st),
            ))
            .map_err(e)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(e)?;
    root.present().map_err(e)
}
