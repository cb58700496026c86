// The circuit explorer's front end: it simulates the circuit in the page.
//
// The circuit comes from Python as widget state (qvit_lib.quantum.circuits, the one
// definition every simulator and drawing of the book reads): a list of gates, each
// {name, wires, source, index, role, label, column}, and the measured qubits. A state vector
// of 2^d complex amplitudes, qubit 0 the most significant bit of the index (as in PennyLane),
// takes the gates one by one; ⟨Z_j⟩ and the basis-state probabilities are read off the final
// state. Every slider change re-simulates at once, so the explorer responds in JupyterLab and
// in the static book alike, with or without a kernel.

function simulate(gates, measured, x, theta) {
  const d = x.length, dim = 1 << d;
  const re = new Float64Array(dim), im = new Float64Array(dim);
  re[0] = 1;
  const bit = (q) => 1 << (d - 1 - q);
  const single = (q, m) => {  // m = [a, b, c, d] as [re, im] pairs: [[a b], [c d]]
    const mask = bit(q);
    for (let i = 0; i < dim; i++) {
      if (i & mask) continue;
      const j = i | mask;
      const [ar, ai, br, bi, cr, ci, dr, di] = m;
      const r0 = re[i], i0 = im[i], r1 = re[j], i1 = im[j];
      re[i] = ar * r0 - ai * i0 + br * r1 - bi * i1;
      im[i] = ar * i0 + ai * r0 + br * i1 + bi * r1;
      re[j] = cr * r0 - ci * i0 + dr * r1 - di * i1;
      im[j] = cr * i0 + ci * r0 + dr * i1 + di * r1;
    }
  };
  const h = Math.SQRT1_2;
  const H = (q) => single(q, [h, 0, h, 0, h, 0, -h, 0]);
  const RX = (q, a) => { const c = Math.cos(a / 2), s = Math.sin(a / 2); single(q, [c, 0, 0, -s, 0, -s, c, 0]); };
  const RY = (q, a) => { const c = Math.cos(a / 2), s = Math.sin(a / 2); single(q, [c, 0, -s, 0, s, 0, c, 0]); };
  const CNOT = (c, t) => {
    const mc = bit(c), mt = bit(t);
    for (let i = 0; i < dim; i++) {
      if ((i & mc) && !(i & mt)) {
        const j = i | mt;
        [re[i], re[j]] = [re[j], re[i]];
        [im[i], im[j]] = [im[j], im[i]];
      }
    }
  };
  const apply = { h: (w) => H(w[0]), rx: (w, a) => RX(w[0], a), ry: (w, a) => RY(w[0], a), cnot: (w) => CNOT(w[0], w[1]) };
  for (const gate of gates) {
    if (!(gate.name in apply)) throw new Error(`circuit explorer: unknown gate ${gate.name}`);
    const angle = gate.source === null ? null : (gate.source === "x" ? x : theta)[gate.index];
    apply[gate.name](gate.wires, angle);
  }
  const probabilities = Array.from(re, (r, i) => r * r + im[i] * im[i]);
  const expectations = measured.map((q) => probabilities.reduce((sum, p, i) => sum + (i & bit(q) ? -p : p), 0));
  return { measured, expectations, probabilities };
}

// Shots: a seeded generator (mulberry32, 32-bit integer arithmetic, the same in Python) draws
// each run's bit string from the probabilities by inverse transform. Re-seeded at every
// render, so a setting always shows the same sample — in the page and in Python.
function mulberry32(seed) {
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function sampleCounts(probabilities, shots, seed) {
  const counts = new Array(probabilities.length).fill(0);
  const cumulative = [];
  probabilities.reduce((sum, p, i) => (cumulative[i] = sum + p), 0);
  const random = mulberry32(seed);
  for (let s = 0; s < shots; s++) {
    const u = random() * cumulative[cumulative.length - 1];
    let i = 0;
    while (i < cumulative.length - 1 && cumulative[i] <= u) i++;
    counts[i]++;
  }
  return counts;
}

// ⟨Z_q⟩ estimated from the counts: the mean of ±1, with its standard error √((1 − m²)/S).
function estimate(counts, q, d, shots) {
  const mask = 1 << (d - 1 - q);
  const mean = counts.reduce((sum, n, i) => sum + (i & mask ? -n : n), 0) / shots;
  return [mean, Math.sqrt(Math.max(1 - mean * mean, 0) / shots)];
}

const SHOT_CHOICES = [0, 10, 30, 100, 300, 1000, 3000, 10000, 30000, 100000];  // 0: exact

// The circuit as drawing columns, in the order of each gate's column number: a list of
// gates [qubit, label, role] (role "loader" or "ansatz") or one CNOT {control, target}. Gate
// columns are wide, CNOT columns narrow, so every circuit of the book is drawn at the same
// scale within the page's width.
function layout(gates) {
  const columns = [];
  for (const gate of gates) {
    if (gate.name === "cnot") columns[gate.column] = { control: gate.wires[0], target: gate.wires[1] };
    else (columns[gate.column] = columns[gate.column] || []).push([gate.wires[0], gate.label, gate.role]);
  }
  return columns;
}

function sub(n) {
  return String(n).split("").map((c) => "₀₁₂₃₄₅₆₇₈₉"[+c]).join("");
}

function circuitSVG(gates, d, measured) {
  const columns = layout(gates);
  const gateWidth = 50, cnotWidth = 22, gap = 30, top = 12, left = 26, meter = 34;
  const y = (q) => top + q * gap;
  let x = left;
  const placed = columns.map((column) => {
    const width = Array.isArray(column) ? gateWidth : cnotWidth;
    const centre = x + width / 2;
    x += width;
    return [column, centre];
  });
  const wiresEnd = x + 8, width = wiresEnd + meter + 4, height = top + (d - 1) * gap + 16;
  const parts = [`<svg viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="the circuit">`];
  for (let q = 0; q < d; q++) {
    parts.push(`<line x1="${left - 6}" x2="${wiresEnd}" y1="${y(q)}" y2="${y(q)}" class="qx-wire"/>`);
    parts.push(`<text x="2" y="${y(q) + 4}" class="qx-label">q${sub(q)}</text>`);
  }
  for (const [column, c] of placed) {
    if (!Array.isArray(column)) {
      const { control, target } = column;
      parts.push(`<line x1="${c}" x2="${c}" y1="${y(control)}" y2="${y(target)}" class="qx-wire"/>`);
      parts.push(`<circle cx="${c}" cy="${y(control)}" r="3.5" class="qx-dot"/>`);
      parts.push(`<circle cx="${c}" cy="${y(target)}" r="7" class="qx-target"/>`);
      parts.push(`<line x1="${c - 7}" x2="${c + 7}" y1="${y(target)}" y2="${y(target)}" class="qx-wire"/>`);
      parts.push(`<line x1="${c}" x2="${c}" y1="${y(target) - 7}" y2="${y(target) + 7}" class="qx-wire"/>`);
      continue;
    }
    for (const [q, label, role] of column) {
      parts.push(`<rect x="${c - gateWidth / 2 + 2}" y="${y(q) - 10}" width="${gateWidth - 4}" height="20" rx="3" class="qx-gate qx-${role}"/>`);
      parts.push(`<text x="${c}" y="${y(q) + 4}" class="qx-gate-label">${label}</text>`);
    }
  }
  for (const q of measured) {
    parts.push(`<rect x="${wiresEnd}" y="${y(q) - 10}" width="${meter}" height="20" rx="3" class="qx-gate qx-measure"/>`);
    parts.push(`<text x="${wiresEnd + meter / 2}" y="${y(q) + 4}" class="qx-gate-label">⟨Z⟩</text>`);
  }
  parts.push("</svg>");
  return parts.join("");
}

function legend() {
  return "<div class='qx-legend'><span class='qx-swatch qx-loader'></span> data loader: the inputs x" +
    "<span class='qx-swatch qx-ansatz'></span> ansatz: the trained angles θ</div>";
}

function slider(label, value, min, max, onInput, step = 0.01, format = (v) => v.toFixed(2)) {
  const row = document.createElement("label");
  row.className = "qx-slider";
  const name = document.createElement("span");
  name.textContent = label;
  const input = document.createElement("input");
  Object.assign(input, { type: "range", min, max, step, value });
  const readout = document.createElement("span");
  readout.className = "qx-readout";
  const show = () => { readout.textContent = format(+input.value); };
  input.addEventListener("input", () => { show(); onInput(+input.value); });
  show();
  row.append(name, input, readout);
  return row;
}

function render({ model, el }) {
  const loader = model.get("loader"), kind = model.get("kind"), d = model.get("n_qubits");
  el.classList.add("qvit-explorer");
  el.dataset.loader = loader;
  const title = document.createElement("div");
  title.className = "qx-title";
  title.textContent = `${kind === "query_key" ? "query/key" : "value"} circuit, ${loader} data loader`;
  const controls = document.createElement("div");
  controls.className = "qx-controls";
  const inputs = document.createElement("div"), angles = document.createElement("div");
  inputs.innerHTML = "<div class='qx-head'>inputs x (one per qubit)</div>";
  angles.innerHTML = "<div class='qx-head'>ansatz angles θ</div>";
  const set = (name, index, value) => {
    const values = [...model.get(name)];
    values[index] = value;
    model.set(name, values);
    model.save_changes();
  };
  // Ranges on the 0.01 grid (±3.14 and 0 … 6.28), so that a slider's value is what it shows.
  model.get("x").forEach((v, j) => inputs.append(slider(`x${sub(j)}`, v, -3.14, 3.14, (value) => set("x", j, value))));
  model.get("theta").forEach((v, k) => angles.append(slider(`θ${sub(k)}`, v, 0, 6.28, (value) => set("theta", k, value))));
  controls.append(inputs, angles);
  if (model.get("show_shots")) {
    const runs = document.createElement("div");
    runs.className = "qx-shots";
    runs.innerHTML = "<div class='qx-head'>shots per circuit (0: exact)</div>";
    const index = Math.max(0, SHOT_CHOICES.indexOf(model.get("shots")));
    runs.append(slider("S", index, 0, SHOT_CHOICES.length - 1, (i) => {
      model.set("shots", SHOT_CHOICES[i]);
      model.save_changes();
    }, 1, (i) => (SHOT_CHOICES[i] ? SHOT_CHOICES[i].toLocaleString("en") : "exact")));
    controls.append(runs);
  }
  const results = document.createElement("div");
  results.className = "qx-results";
  const readout = document.createElement("table");
  readout.className = "qvit-expvals";
  const bars = document.createElement("div");
  bars.className = "qx-bars";
  results.append(readout, bars);
  const drawing = document.createElement("div");
  drawing.className = "qx-circuit";
  el.append(title, controls, results, drawing);

  const update = () => {
    const { measured, expectations, probabilities } = simulate(model.get("gates"), model.get("measured"), model.get("x"), model.get("theta"));
    const shots = model.get("show_shots") ? model.get("shots") : 0;
    const counts = shots ? sampleCounts(probabilities, shots, model.get("sample_seed")) : null;
    const sign = (v) => `${v >= 0 ? "+" : "−"}${Math.abs(v).toFixed(4)}`;
    readout.innerHTML = "<caption>⟨Z⟩ of the measured qubits</caption>" + measured.map((q, i) => {
      let row = `<tr><td>⟨Z${sub(q)}⟩</td><td class="qx-value" data-value="${expectations[i]}">${sign(expectations[i])}</td>`;
      if (counts) {
        const [mean, error] = estimate(counts, q, d, shots);
        row += `<td class="qx-estimate" data-value="${mean}" data-error="${error}">${sign(mean)} ± ${error.toFixed(4)}</td>`;
      }
      return row + "</tr>";
    }).join("") + (counts ? `<tr><td></td><td>exact</td><td>from ${shots.toLocaleString("en")} shots</td></tr>` : "");
    bars.innerHTML = `<div class='qx-head'>${counts ? "P(basis state), exact (blue) and sampled (orange)" : "P(basis state)"}</div>` +
      probabilities.map((p, i) => {
        const state = `<span>|${i.toString(2).padStart(d, "0")}⟩</span>`;
        if (!counts) {
          return `<div class="qx-bar">${state}<span class="qx-fill" style="width:${(100 * p).toFixed(1)}%"></span><span>${p.toFixed(3)}</span></div>`;
        }
        const f = counts[i] / shots;  // exact (blue) above, sampled (orange) below
        return `<div class="qx-bar">${state}<span class="qx-pair"><span class="qx-fill" style="width:${(100 * p).toFixed(1)}%"></span>` +
          `<span class="qx-fill qx-sampled" style="width:${(100 * f).toFixed(1)}%"></span></span>` +
          `<span>${p.toFixed(3)}</span><span class="qx-count" data-count="${counts[i]}">${f.toFixed(3)}</span></div>`;
      }).join("");
  };
  drawing.innerHTML = legend() + circuitSVG(model.get("gates"), d, model.get("measured"));
  model.on("change:x", update);
  model.on("change:theta", update);
  model.on("change:shots", update);
  update();
  return () => {
    model.off("change:x", update);
    model.off("change:theta", update);
    model.off("change:shots", update);
  };
}

export default { render };
