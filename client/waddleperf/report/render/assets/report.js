/* Draws the report's charts with uPlot from the page's JSON block (id "report-data").
 * Kinds: "latency" (SmokePing-style median, bands and loss marks), "tiers" (step lines) and
 * "profile" (CPU and RSS on two axes). Times are Unix seconds, shown in UTC. Text from the
 * data reaches the page only through uPlot, which writes labels with textContent. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var colours = data.colours;
  var byKey = {};
  data.charts.forEach(function (c) { byKey[c.key] = c; });
  var drawn = [];
  window.waddleperfCharts = drawn; // every drawn chart: {key, kind, plot}

  function utc(ts) { return uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); }

  function two(n) { return (n < 10 ? "0" : "") + n; }

  function clock(d, seconds) {
    return two(d.getHours()) + ":" + two(d.getMinutes()) + (seconds ? ":" + two(d.getSeconds()) : "");
  }

  function day(d) { return d.getFullYear() + "-" + two(d.getMonth() + 1) + "-" + two(d.getDate()); }

  // 24-hour UTC ticks; the date under the first tick of each day.
  function timeTicks(u, splits, axisIdx, space, incr) {
    var last = null;
    return splits.map(function (ts) {
      var d = utc(ts), today = day(d);
      var label = incr >= 86400 ? today : clock(d, incr < 60);
      if (incr < 86400 && today !== last) { label += "\n" + today; }
      last = today;
      return label;
    });
  }

  function stamp(u, ts) { return ts == null ? "--" : day(utc(ts)) + " " + clock(utc(ts), true); }

  var TIME_AXIS = { values: timeTicks };
  var TIME_SERIES = { label: "time (UTC)", value: stamp };

  function widthOf(el) { return Math.max(320, Math.floor(el.clientWidth || 800)); }

  function fromZero(u, min, max) { return [0, max > 0 ? max * 1.1 : 1]; }

  function unit(suffix, digits) {
    return function (u, v) { return v == null ? "\u2014" : v.toFixed(digits) + suffix; };
  }

  function lossColour(loss) {
    if (loss === null) { return colours.no_loss_figure; }
    for (var i = 0; i < data.loss_classes.length; i++) {
      if (loss <= data.loss_classes[i][0] + 1e-12) { return data.loss_classes[i][1]; }
    }
    return colours.full_loss;
  }

  // SmokePing marks each bucket's median in the colour of its loss; a bucket whose records
  // were all lost has no median and gets a red mark on the time axis instead.
  function lossMarks(c) {
    return function (u) {
      var ctx = u.ctx, px = uPlot.pxRatio, h = Math.max(2, 3 * px);
      var median = u.data[3];
      ctx.save();
      for (var i = 0; i < c.x.length; i++) {
        var left = u.valToPos(c.x[i] - c.bucket_s / 2, "x", true);
        var right = u.valToPos(c.x[i] + c.bucket_s / 2, "x", true);
        var w = Math.max(2 * px, right - left);
        if (median[i] !== null) {
          ctx.fillStyle = lossColour(c.loss[i]);
          ctx.fillRect(left, u.valToPos(median[i], "ms", true) - h / 2, w, h);
        } else if (c.counts[i] > 0 && c.loss[i] !== null && c.loss[i] >= 1) {
          ctx.fillStyle = colours.full_loss;
          ctx.fillRect(left, u.bbox.top + u.bbox.height - 2 * h, w, 2 * h);
        }
      }
      ctx.restore();
    };
  }

  function latency(c, el) {
    var range = c.x_range;
    return {
      width: widthOf(el), height: 240, tzDate: utc,
      cursor: { sync: { key: "latency" } },
      scales: {
        x: { time: true, range: range ? function () { return range; } : undefined },
        ms: { range: fromZero }
      },
      axes: [TIME_AXIS, { scale: "ms", label: c.axes[0] }],
      series: [TIME_SERIES].concat(c.series.map(function (s) {
        var median = s.label === "median";
        return {
          label: s.label, scale: "ms", stroke: s.colour, width: median ? 1 : 0,
          points: { show: false }, value: unit(" ms", 2)
        };
      })),
      // series 1..5 are p10, p25, median, p75, p90
      bands: [
        { series: [5, 1], fill: colours.band_outer },
        { series: [4, 2], fill: colours.band_inner }
      ],
      hooks: { draw: [lossMarks(c)] }
    };
  }

  function tiers(c, el) {
    var top = 3;
    c.series.forEach(function (s) {
      s.values.forEach(function (v) { if (v !== null && v > top) { top = v; } });
    });
    return {
      width: widthOf(el), height: 200, tzDate: utc,
      scales: { x: { time: true }, tier: { range: function () { return [0.5, top + 0.5]; } } },
      axes: [TIME_AXIS, {
        scale: "tier", label: c.axes[0],
        splits: function () { var out = []; for (var t = 1; t <= top; t++) { out.push(t); } return out; },
        values: function (u, splits) { return splits.map(String); }
      }],
      series: [TIME_SERIES].concat(c.series.map(function (s) {
        return {
          label: s.label, scale: "tier", stroke: s.colour, width: 2,
          paths: uPlot.paths.stepped({ align: 1 }), points: { show: true, size: 6 },
          value: unit("", 0)
        };
      }))
    };
  }

  function profile(c, el) {
    var few = c.x.length <= 60;
    return {
      width: widthOf(el), height: 220, tzDate: utc,
      scales: { x: { time: true }, cpu: { range: fromZero }, mem: { range: fromZero } },
      axes: [TIME_AXIS, { scale: "cpu", label: c.axes[0] },
             { scale: "mem", label: c.axes[1], side: 1, grid: { show: false } }],
      series: [TIME_SERIES].concat(c.series.map(function (s) {
        return {
          label: s.label, scale: s.scale, stroke: s.colour, width: 1.5,
          points: { show: few }, value: unit(s.scale === "cpu" ? " %" : " MiB", 1)
        };
      }))
    };
  }

  var builders = { latency: latency, tiers: tiers, profile: profile };

  Array.prototype.forEach.call(document.querySelectorAll(".plot[data-chart]"), function (el) {
    var key = el.getAttribute("data-chart");
    var c = byKey[key];
    try {
      if (!c || !builders[c.kind]) { throw new Error("no data for chart " + key); }
      var columns = [c.x].concat(c.series.map(function (s) { return s.values; }));
      var plot = new uPlot(builders[c.kind](c, el), columns, el);
      drawn.push({ key: key, kind: c.kind, plot: plot });
    } catch (err) {
      el.textContent = "This chart could not be drawn: " + err.message;
      el.className += " chart-error";
      console.error("report: chart " + key + ": " + err.message);
    }
  });

  window.addEventListener("resize", function () {
    drawn.forEach(function (d) {
      d.plot.setSize({ width: widthOf(d.plot.root.parentNode), height: d.plot.height });
    });
  });
}());
