//! Pictures of a run: loss and accuracy curves, and the confusion matrix, as SVG.

use plotters::prelude::*;
use std::path::Path;

type Res = Result<(), Box<dyn std::error::Error>>;

/// One run's per-epoch curve for a metric.
pub struct Curve<'a> {
    /// legend label
    pub label: &'a str,
    /// `(epoch, value)` points
    pub points: Vec<(f64, f64)>,
}

/// A training chart: `train`, the per-step training values at fractional epochs (faint as
/// they are, and smoothed with a moving average), plus `others` (the per-epoch test points)
/// as lines with markers.
pub fn training_chart(
    path: &Path,
    title: &str,
    y_label: &str,
    train: Vec<(f64, f64)>,
    others: &[Curve],
) -> Res {
    let mut svg = String::new();
    let root = SVGBackend::with_string(&mut svg, (720, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    draw_curves(&root, title, y_label, Some(&train), others)?;
    root.present()?;
    drop(root);
    fovea_io::write_atomic(path, svg.as_bytes())?;
    Ok(())
}

/// Centred moving average over `window` points (shorter at the ends).
pub fn moving_average(points: &[(f64, f64)], window: usize) -> Vec<(f64, f64)> {
    let half = window / 2;
    (0..points.len())
        .map(|i| {
            let lo = i.saturating_sub(half);
            let hi = (i + half + 1).min(points.len());
            let mean = points[lo..hi].iter().map(|p| p.1).sum::<f64>() / (hi - lo) as f64;
            (points[i].0, mean)
        })
        .collect()
}

/// One run's curves for [`comparison`].
pub struct RunCurves {
    /// legend label
    pub label: String,
    /// `(epoch, test accuracy)`
    pub accuracy: Vec<(f64, f64)>,
    /// `(epoch, training loss)`
    pub loss: Vec<(f64, f64)>,
}

/// Several runs side by side: test accuracy (left) and training loss (right) per epoch,
/// one colour per run.
pub fn comparison(path: &Path, runs: &[RunCurves]) -> Res {
    let mut svg = String::new();
    let root = SVGBackend::with_string(&mut svg, (1280, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(640);
    let curves = |pick: fn(&RunCurves) -> &Vec<(f64, f64)>| {
        runs.iter()
            .map(|r| Curve {
                label: &r.label,
                points: pick(r).clone(),
            })
            .collect::<Vec<_>>()
    };
    draw_curves(
        &left,
        "test accuracy",
        "accuracy",
        None,
        &curves(|r| &r.accuracy),
    )?;
    draw_curves(
        &right,
        "training loss",
        "cross-entropy",
        None,
        &curves(|r| &r.loss),
    )?;
    root.present()?;
    drop((left, right, root));
    fovea_io::write_atomic(path, svg.as_bytes())?;
    Ok(())
}

/// Draws `curves` (lines with markers, one colour each) and, when given, a per-step series
/// first: faint as it is and smoothed, in the first colour.
fn draw_curves<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    y_label: &str,
    per_step: Option<&[(f64, f64)]>,
    curves: &[Curve],
) -> Result<(), Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    let steps = per_step.unwrap_or_default();
    let all = || {
        steps
            .iter()
            .chain(curves.iter().flat_map(|c| c.points.iter()))
            .copied()
    };
    let x_max = all().map(|p| p.0).fold(1.0f64, f64::max);
    let (y_min, y_max) =
        match all().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1))) {
            (lo, hi) if lo <= hi => (lo, hi),
            _ => (0.0, 1.0),
        };
    let pad = ((y_max - y_min) * 0.1).max(1e-3);
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(0.0..x_max, (y_min - pad)..(y_max + pad))?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc(y_label)
        .draw()?;
    let first = usize::from(per_step.is_some());
    if per_step.is_some() {
        let blue = Palette99::pick(0).to_rgba();
        let smoothed = moving_average(steps, (steps.len() / 25).max(1));
        chart.draw_series(LineSeries::new(
            steps.to_vec(),
            blue.mix(0.25).stroke_width(1),
        ))?;
        chart
            .draw_series(LineSeries::new(smoothed, blue.stroke_width(2)))?
            .label("train (per step, smoothed)")
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], blue.stroke_width(2))
            });
    }
    for (i, c) in curves.iter().enumerate() {
        let color = Palette99::pick(i + first).to_rgba();
        chart
            .draw_series(LineSeries::new(c.points.clone(), color.stroke_width(2)))?
            .label(c.label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
        chart.draw_series(c.points.iter().map(|p| Circle::new(*p, 3, color.filled())))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

/// The confusion matrix (`counts[true][predicted]`) as a heat map with counts, rows
/// normalised for the colour.
pub fn confusion_matrix(path: &Path, classes: &[String], counts: &[Vec<u64>]) -> Res {
    let n = classes.len();
    let cell = 52;
    let left = 120;
    let top = 60;
    let size = (left + cell * n as u32 + 20, top + cell * n as u32 + 110);
    let mut svg = String::new();
    let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
    root.fill(&WHITE)?;
    root.draw(&Text::new(
        "confusion matrix (rows: true class, columns: predicted)",
        (10, 20),
        ("sans-serif", 16),
    ))?;
    for (t, row) in counts.iter().enumerate() {
        let total = row.iter().sum::<u64>().max(1) as f64;
        for (p, &c) in row.iter().enumerate() {
            let frac = c as f64 / total;
            let shade = (255.0 * (1.0 - frac)) as u8;
            let (x, y) = (left + cell * p as u32, top + cell * t as u32);
            let colour = RGBColor(shade, shade, 255);
            root.draw(&Rectangle::new(
                [(x as i32, y as i32), ((x + cell) as i32, (y + cell) as i32)],
                colour.filled(),
            ))?;
            let ink = if frac > 0.5 { WHITE } else { BLACK };
            root.draw(&Text::new(
                c.to_string(),
                (x as i32 + 6, y as i32 + cell as i32 / 2 - 6),
                ("sans-serif", 13).into_font().color(&ink),
            ))?;
        }
        root.draw(&Text::new(
            classes[t].clone(),
            (6, (top + cell * t as u32 + cell / 2 - 6) as i32),
            ("sans-serif", 13),
        ))?;
    }
    for (p, name) in classes.iter().enumerate() {
        let x = (left + cell * p as u32 + 4) as i32;
        let y = (top + cell * n as u32 + 8) as i32;
        root.draw(&Text::new(
            name.clone(),
            (x, y),
            ("sans-serif", 12)
                .into_font()
                .transform(FontTransform::Rotate90),
        ))?;
    }
    root.present()?;
    drop(root);
    fovea_io::write_atomic(path, svg.as_bytes())?;
    Ok(())
}

/// A 2-D map of points coloured by class with a legend (PCA, t-SNE).
pub fn scatter(
    path: &Path,
    title: &str,
    points: &[(f32, f32)],
    labels: &[u8],
    classes: &[String],
) -> Res {
    let mut svg = String::new();
    let root = SVGBackend::with_string(&mut svg, (720, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let (x0, x1, y0, y1) = points.iter().fold(
        (f32::MAX, f32::MIN, f32::MAX, f32::MIN),
        |(a, b, c, d), &(x, y)| (a.min(x), b.max(x), c.min(y), d.max(y)),
    );
    let (px, py) = (((x1 - x0) * 0.05).max(1e-6), ((y1 - y0) * 0.05).max(1e-6));
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(50)
        .build_cartesian_2d((x0 - px)..(x1 + px), (y0 - py)..(y1 + py))?;
    chart.configure_mesh().disable_mesh().draw()?;
    for (c, name) in classes.iter().enumerate() {
        let color = Palette99::pick(c).to_rgba();
        let pts: Vec<(f32, f32)> = points
            .iter()
            .zip(labels)
            .filter(|(_, &l)| l as usize == c)
            .map(|(p, _)| *p)
            .collect();
        chart
            .draw_series(
                pts.iter()
                    .map(|p| Circle::new(*p, 2, color.mix(0.7).filled())),
            )?
            .label(name.as_str())
            .legend(move |(x, y)| Circle::new((x + 6, y), 4, color.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    drop((chart, root));
    fovea_io::write_atomic(path, svg.as_bytes())?;
    Ok(())
}
