/* connectmap offline map (runs after Leaflet, which is embedded in the same page).
 *
 * Hand-written, not from a package, for two reasons (see connectmap/report/maps.py): no maintained package draws
 * 100k coloured points on one canvas with click hit-testing, and Leaflet's own layer control, attribution and
 * scale write their labels with innerHTML, which must never see text from the data.
 *
 * Rules kept throughout: the data is read once from <script type="application/json" id="cm-data">; every string
 * from it reaches the page through textContent (the el() helper), never innerHTML, never as code; no network
 * request is made unless the reader switches on the map tiles.
 */
(function () {
  "use strict";

  var DATA = JSON.parse(document.getElementById("cm-data").textContent);
  var MAX_LAT = 85.0511287798;
  var PAD = 0.25; // the point canvas reaches a quarter of the view beyond each edge, so short pans show drawn points

  // --- small helpers ---------------------------------------------------------------------------------------------
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function columnValue(column, i) {
    if (!column) return null;
    if (column.d) {
      var code = column.c[i];
      return code < 0 ? null : column.d[code];
    }
    var value = column.v[i];
    return value === undefined ? null : value;
  }

  var numberFormats = {};
  function formatNumber(value, digits) {
    if (!numberFormats[digits]) {
      numberFormats[digits] = new Intl.NumberFormat("en", { maximumFractionDigits: digits });
    }
    return numberFormats[digits].format(value);
  }

  function formatValue(field, value) {
    if (value === null) return field.format === "bool" ? "unknown" : null;
    switch (field.format) {
      case "bool": return value ? "yes" : "no";
      case "text": return String(value);
      case "int": return formatNumber(value, 0) + (field.unit ? " " + field.unit : "");
      case "usd": return formatNumber(value, 0) + " " + field.unit;
      case "km": return formatNumber(value, Math.abs(value) < 10 ? 2 : 1) + " km";
      case "percent": return formatNumber(value, 1) + " %";
      default: return formatNumber(value, 3) + (field.unit ? " " + field.unit : "");
    }
  }

  function titleOf(spec, i) {
    for (var k = 0; k < spec.title.length; k++) {
      var key = spec.title[k];
      var value = columnValue(spec.columns[key], i);
      if (value !== null && value !== "") return key === "source_row" ? "Row " + value : String(value);
    }
    return spec.name + " " + (i + 1);
  }

  function popupContent(kind, title, fields, columns, i) {
    var box = el("div", "cm-popup");
    box.appendChild(el("h3", null, title));
    box.appendChild(el("p", "cm-kind", kind));
    var table = el("table");
    for (var k = 0; k < fields.length; k++) {
      var field = fields[k];
      var text = formatValue(field, columnValue(columns[field.key], i));
      if (text === null) continue;
      var row = el("tr");
      row.appendChild(el("th", null, field.label));
      row.appendChild(el("td", null, text));
      table.appendChild(row);
    }
    box.appendChild(table);
    return box;
  }

  function fold(text) {
    return String(text).normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }

  function mercatorX(lon) { return 0.5 + lon / 360; }
  function mercatorY(lat) {
    var s = Math.sin(Math.max(-MAX_LAT, Math.min(MAX_LAT, lat)) * Math.PI / 180);
    return 0.5 - 0.25 * Math.log((1 + s) / (1 - s)) / Math.PI;
  }

  // --- canvas point layer ------------------------------------------------------------------------------------------
  // All points of a layer are drawn on one canvas, one path per category, from typed arrays of Web Mercator
  // coordinates (the same projection Leaflet uses: pixel = (0.5 + lon/360, 0.5 - atanh(sin lat)/2pi) * 256 * 2^zoom).
  var PointsLayer = L.Layer.extend({
    options: { pane: "cmPoints" },

    initialize: function (spec) {
      var n = spec.lat.length;
      this.spec = spec;
      this.size = n;
      this.mx = new Float64Array(n);
      this.my = new Float64Array(n);
      for (var i = 0; i < n; i++) {
        this.mx[i] = mercatorX(spec.lon[i]);
        this.my[i] = mercatorY(spec.lat[i]);
      }
      this.sx = new Float32Array(n);
      this.sy = new Float32Array(n);
      this.drawnIndex = new Int32Array(n);
      this.drawn = 0;
      this.inView = 0;
      this.setColouring(spec.colourings.length ? spec.colourings[0].key : null);
    },

    setColouring: function (key) {
      var list = this.spec.colourings;
      this.colouring = list.filter(function (c) { return c.key === key; })[0] || list[0];
      var codes = this.colouring.codes;
      var k = this.colouring.legend.length;
      var starts = new Int32Array(k + 1);
      var i;
      for (i = 0; i < this.size; i++) starts[codes[i] + 1]++;
      for (i = 0; i < k; i++) starts[i + 1] += starts[i];
      var next = starts.slice(0, k);
      var order = new Int32Array(this.size);
      for (i = 0; i < this.size; i++) order[next[codes[i]]++] = i;
      this.order = order;
      this.starts = starts;
      if (this._map) this.redraw();
    },

    onAdd: function (map) {
      this._canvas = L.DomUtil.create("canvas", "cm-points");
      this.getPane().appendChild(this._canvas);
      map.on("moveend resize", this.redraw, this);
      map.on("zoomstart", this._hide, this);
      this.redraw();
    },

    onRemove: function (map) {
      map.off("moveend resize", this.redraw, this);
      map.off("zoomstart", this._hide, this);
      L.DomUtil.remove(this._canvas);
      this._canvas = null;
      this.drawn = 0;
      this.inView = 0;
    },

    _hide: function () {
      if (this._canvas) this._canvas.style.visibility = "hidden";
    },

    getBounds: function () {
      var s = 90, w = 180, n = -90, e = -180;
      for (var i = 0; i < this.size; i++) {
        var lat = this.spec.lat[i], lon = this.spec.lon[i];
        if (lat < s) s = lat;
        if (lat > n) n = lat;
        if (lon < w) w = lon;
        if (lon > e) e = lon;
      }
      return L.latLngBounds([s, w], [n, e]);
    },

    redraw: function () {
      var map = this._map;
      if (!map || !this._canvas) return;
      var size = map.getSize();
      var padX = Math.round(size.x * PAD), padY = Math.round(size.y * PAD);
      var width = size.x + 2 * padX, height = size.y + 2 * padY;
      var ratio = window.devicePixelRatio || 1;
      var canvas = this._canvas;
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
      canvas.style.width = width + "px";
      canvas.style.height = height + "px";
      var topLeft = map.containerPointToLayerPoint([-padX, -padY]);
      L.DomUtil.setPosition(canvas, topLeft);
      this._topLeft = topLeft;
      this._pad = [padX, padY];

      var scale = 256 * Math.pow(2, map.getZoom());
      var origin = map.getPixelOrigin();
      var offX = origin.x + topLeft.x, offY = origin.y + topLeft.y;
      var ctx = canvas.getContext("2d");
      ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
      ctx.clearRect(0, 0, width, height);
      var margin = this.spec.size + 2;
      var legend = this.colouring ? this.colouring.legend : [];
      var drawOrder = this.colouring ? this.colouring.order : [];
      var drawn = 0, inView = 0;
      var groupEnd = new Int32Array(drawOrder.length);
      // Pass 1: project the points on the canvas, grouped by category in drawing order.
      for (var g = 0; g < drawOrder.length; g++) {
        var c = drawOrder[g];
        for (var j = this.starts[c]; j < this.starts[c + 1]; j++) {
          var i = this.order[j];
          var x = this.mx[i] * scale - offX, y = this.my[i] * scale - offY;
          if (x < -margin || y < -margin || x > width + margin || y > height + margin) continue;
          this.sx[drawn] = x;
          this.sy[drawn] = y;
          this.drawnIndex[drawn++] = i;
          if (x >= padX && x <= padX + size.x && y >= padY && y <= padY + size.y) inView++;
        }
        groupEnd[g] = drawn;
      }
      // The symbol shrinks (down to 1.5 px) when the view is crowded, so dense areas keep their colours readable
      // instead of turning into a mass of outlines; outlines are drawn only on symbols large enough to show them.
      var circle = this.spec.symbol === "circle";
      var spacing = Math.sqrt(size.x * size.y / Math.max(inView, 1)); // mean distance between points in view (px)
      var r = Math.max(circle ? 1.5 : 3, Math.min(this.spec.size, (circle ? 0.5 : 0.35) * spacing));
      this._radius = r;
      var symbol = this.spec.symbol;
      var outline = r >= (circle ? 3 : 6);
      ctx.lineWidth = symbol === "circle" ? 0.8 : 1;
      ctx.strokeStyle = "rgba(0, 0, 0, 0.6)";
      // Pass 2: one path per category.
      var k = 0;
      for (var h = 0; h < drawOrder.length; h++) {
        ctx.beginPath();
        for (; k < groupEnd[h]; k++) {
          var px = this.sx[k], py = this.sy[k];
          if (symbol === "triangle") {
            ctx.moveTo(px, py - r * 0.6);
            ctx.lineTo(px + r * 0.5, py + r * 0.4);
            ctx.lineTo(px - r * 0.5, py + r * 0.4);
            ctx.closePath();
          } else if (symbol === "square") {
            ctx.rect(px - r / 2, py - r / 2, r, r);
          } else {
            ctx.moveTo(px + r, py);
            ctx.arc(px, py, r, 0, 2 * Math.PI);
          }
        }
        ctx.fillStyle = legend[drawOrder[h]].colour;
        ctx.fill();
        if (outline) ctx.stroke();
      }
      this.drawn = drawn;
      this.inView = inView;
      canvas.style.visibility = "";
    },

    // Index of the point drawn nearest to a container point (within the symbol + 3 px), or -1. Later-drawn points
    // win ties, as they are on top.
    hit: function (point) {
      if (!this._map || !this._topLeft) return -1;
      var now = this._map.containerPointToLayerPoint([0, 0]);
      var x = point.x + now.x - this._topLeft.x, y = point.y + now.y - this._topLeft.y;
      var reach = (this._radius || this.spec.size) + 3, best = -1, bestDistance = reach * reach;
      for (var j = 0; j < this.drawn; j++) {
        var dx = this.sx[j] - x, dy = this.sy[j] - y, d = dx * dx + dy * dy;
        if (d <= bestDistance) {
          bestDistance = d;
          best = this.drawnIndex[j];
        }
      }
      return best;
    },

    latLng: function (i) { return L.latLng(this.spec.lat[i], this.spec.lon[i]); }
  });

  // --- the map -----------------------------------------------------------------------------------------------------
  function main() {
    document.title = DATA.title;
    var container = document.getElementById("cm-map");
    var map = L.map(container, { zoomControl: false, attributionControl: false, minZoom: 2, worldCopyJump: false });
    var panes = [["cmOutline", 250], ["cmRegions", 300], ["cmAreas", 380], ["cmLines", 420], ["cmPoints", 450]];
    panes.forEach(function (p) { map.createPane(p[0]).style.zIndex = p[1]; });
    map.getPane("cmOutline").style.pointerEvents = "none";
    map.fitBounds(DATA.bounds, { padding: [20, 20], animate: false });

    // Base layers: outlines (offline) or tiles (needs internet; nothing is requested until chosen).
    var outline = L.geoJSON(DATA.outline.map(function (g) { return { type: "Feature", geometry: g, properties: {} }; }),
      { pane: "cmOutline", renderer: L.canvas({ pane: "cmOutline" }), interactive: false,
        style: { color: "#555", weight: 1.2, fill: true, fillColor: "#f4f1ea", fillOpacity: 1 } });
    outline.addTo(map);
    var tiles = L.tileLayer(DATA.tiles.url, { maxZoom: DATA.tiles.maxZoom });
    var base = { current: "outlines" };
    var notice = { text: "" };

    var overlays = []; // {name, layer, kind, spec}: top of the list = drawn on top
    var pointLayers = [];
    var lineRenderer = L.canvas({ pane: "cmLines" });
    var areaRenderer = L.canvas({ pane: "cmAreas" });
    var regionRenderer = L.canvas({ pane: "cmRegions" });

    // Points: DATA.points is in drawing order (schools last, on top).
    DATA.points.forEach(function (spec) {
      var layer = new PointsLayer(spec);
      pointLayers.push(layer);
      overlays.unshift({ name: spec.name, layer: layer, kind: "points", spec: spec });
    });

    DATA.lines.forEach(function (spec) {
      var group = L.featureGroup();
      spec.paths.forEach(function (flat, p) {
        var latlngs = [];
        for (var k = 0; k < flat.length; k += 2) latlngs.push([flat[k], flat[k + 1]]);
        var feature = spec.feature[p];
        var colour = spec.colouring ? spec.colouring.legend[spec.colouring.codes[feature]].colour : spec.colour;
        var line = L.polyline(latlngs, { pane: "cmLines", renderer: lineRenderer, color: colour,
          weight: spec.weight, opacity: 0.9, dashArray: spec.dashed[feature] ? "8 6" : null });
        line.bindPopup(function () {
          return popupContent(spec.name, titleOf(spec, feature), spec.fields, spec.columns, feature);
        });
        group.addLayer(line);
      });
      overlays.push({ name: spec.name, layer: group, kind: "line", spec: spec });
    });

    DATA.areas.forEach(function (spec) {
      var features = spec.geometries.map(function (g) { return { type: "Feature", geometry: g, properties: {} }; });
      var layer = L.geoJSON(features, { pane: "cmAreas", renderer: areaRenderer, interactive: false,
        style: { stroke: false, fill: true, fillColor: spec.colour, fillOpacity: spec.opacity } });
      overlays.push({ name: spec.name, layer: layer, kind: "area", spec: spec });
    });

    DATA.rasters.forEach(function (spec) {
      if (String(spec.url).indexOf("data:image/png;base64,") !== 0) return; // only embedded images, never a URL
      var layer = L.imageOverlay(spec.url, spec.bounds, { pane: "cmAreas", opacity: spec.opacity, interactive: false });
      overlays.push({ name: spec.name, layer: layer, kind: "area", spec: spec });
    });

    var regions = null;
    if (DATA.regions) {
      var rspec = DATA.regions;
      regions = { spec: rspec, colouring: rspec.colourings[0] };
      var features = [];
      rspec.geometries.forEach(function (g, i) {
        if (g) features.push({ type: "Feature", geometry: g, properties: { i: i } });
      });
      regions.layer = L.geoJSON(features, {
        pane: "cmRegions", renderer: regionRenderer,
        style: function (f) { return regionStyle(f.properties.i); },
        onEachFeature: function (f, layer) {
          layer.bindPopup(function () {
            var i = f.properties.i;
            return popupContent("Region", titleOf(rspec, i), rspec.fields, rspec.columns, i);
          });
        }
      });
      overlays.push({ name: rspec.name, layer: regions.layer, kind: "regions", spec: rspec });
    }

    function regionStyle(i) {
      var c = regions.colouring;
      var colour = c ? c.legend[c.codes[i]].colour : "#d9d9d9";
      return { color: "#555", weight: 1, fillColor: colour, fillOpacity: regions.spec.opacity };
    }

    overlays.forEach(function (o) { if (o.spec.visible !== false) o.layer.addTo(map); });

    // --- popups and hover for points (checked before any line or polygon under the cursor) ------------------------
    function hitPoints(point) {
      for (var k = pointLayers.length - 1; k >= 0; k--) {
        var layer = pointLayers[k];
        if (!map.hasLayer(layer)) continue;
        var i = layer.hit(point);
        if (i >= 0) return { layer: layer, index: i };
      }
      return null;
    }

    function openPointPopup(layer, i) {
      var spec = layer.spec;
      L.popup({ maxWidth: 380, autoPanPadding: [20, 20] })
        .setLatLng(layer.latLng(i))
        .setContent(popupContent(spec.name, titleOf(spec, i), spec.fields, spec.columns, i))
        .openOn(map);
    }

    container.addEventListener("click", function (ev) {
      if (map.dragging && map.dragging.moved()) return;
      if (ev.target.closest && ev.target.closest(".leaflet-control, .leaflet-popup")) return;
      var found = hitPoints(map.mouseEventToContainerPoint(ev));
      if (found) {
        ev.stopPropagation();
        openPointPopup(found.layer, found.index);
      }
    }, true);

    var tooltip = L.tooltip({ direction: "top", offset: [0, -6] });
    var hoverPending = null;
    container.addEventListener("mousemove", function (ev) {
      hoverPending = ev;
      window.requestAnimationFrame(function () {
        if (!hoverPending) return;
        var e = hoverPending;
        hoverPending = null;
        if (e.target.closest && e.target.closest(".leaflet-control")) return;
        var found = hitPoints(map.mouseEventToContainerPoint(e));
        container.classList.toggle("cm-pointer", !!found);
        if (found) {
          tooltip.setLatLng(found.layer.latLng(found.index)).setContent(el("span", null,
            titleOf(found.layer.spec, found.index)));
          if (!map.hasLayer(tooltip)) tooltip.openOn(map);
        } else if (map.hasLayer(tooltip)) {
          map.closeTooltip(tooltip);
        }
      });
    });

    // --- controls ----------------------------------------------------------------------------------------------------
    function panel(position, className, build) {
      var Control = L.Control.extend({
        onAdd: function () {
          var box = el("div", "cm-panel " + className);
          L.DomEvent.disableClickPropagation(box);
          L.DomEvent.disableScrollPropagation(box);
          build(box);
          return box;
        }
      });
      var control = new Control({ position: position });
      control.addTo(map);
      return control;
    }

    // Title and search (top left).
    var searchLayer = pointLayers.filter(function (l) { return l.spec.search.length; })[0];
    panel("topleft", "cm-search", function (box) {
      box.appendChild(el("h2", null, DATA.title));
      box.appendChild(el("p", "cm-hint", DATA.subtitle));
      if (!searchLayer) return;
      var input = el("input");
      input.type = "search";
      input.placeholder = "Search school name or ID";
      input.setAttribute("aria-label", "Search school name or ID");
      var results = el("ul", "cm-results");
      box.appendChild(input);
      box.appendChild(results);
      var folded = null, timer = null;
      function foldedColumns() {
        if (folded) return folded;
        folded = searchLayer.spec.search.map(function (key) {
          var column = searchLayer.spec.columns[key];
          return column.d ? { d: column.d.map(fold), c: column.c } : { v: column.v.map(function (v) {
            return v === null ? null : fold(v);
          }) };
        });
        return folded;
      }
      function choose(i) {
        if (!map.hasLayer(searchLayer)) searchLayer.addTo(map);
        map.setView(searchLayer.latLng(i), Math.max(map.getZoom(), 12), { animate: false });
        openPointPopup(searchLayer, i);
      }
      function run() {
        while (results.firstChild) results.removeChild(results.firstChild);
        var query = fold(input.value.trim());
        if (query.length < 2) return;
        var columns = foldedColumns(), found = [], total = 0;
        for (var i = 0; i < searchLayer.size; i++) {
          for (var k = 0; k < columns.length; k++) {
            var value = columnValue(columns[k], i);
            if (value !== null && value.indexOf(query) >= 0) {
              total++;
              if (found.length < 10) found.push(i);
              break;
            }
          }
        }
        found.forEach(function (i) {
          var item = el("li");
          var button = el("button", null, titleOf(searchLayer.spec, i));
          button.type = "button";
          var where = ["admin1", "admin2"].map(function (key) {
            return columnValue(searchLayer.spec.columns[key], i);
          }).filter(function (v) { return v !== null; }).join(" / ");
          if (where) {
            button.appendChild(document.createElement("br"));
            button.appendChild(el("span", "cm-sub", where));
          }
          button.addEventListener("click", function () { choose(i); });
          item.appendChild(button);
          results.appendChild(item);
        });
        results.appendChild(el("li", "cm-hint", total === 0 ? "No school matches." :
          total > found.length ? "Showing 10 of " + formatNumber(total, 0) + " matches." : ""));
        results.dataset.matches = String(total);
      }
      input.addEventListener("input", function () {
        window.clearTimeout(timer);
        timer = window.setTimeout(run, 120);
      });
      input.addEventListener("keydown", function (ev) {
        if (ev.key === "Enter") {
          window.clearTimeout(timer);
          run();
          var first = results.querySelector("button");
          if (first) first.click();
        }
      });
    });

    L.control.zoom({ position: "topleft" }).addTo(map);
    L.control.scale({ position: "bottomleft", imperial: false, maxWidth: 150 }).addTo(map);

    // Layer control (top right): our own, so layer names are set as text.
    var layersBox = null;
    panel("topright", "cm-layers", function (box) {
      layersBox = box;
      var toggle = el("button", "cm-toggle", "hide");
      toggle.type = "button";
      toggle.addEventListener("click", function () {
        var collapsed = box.classList.toggle("cm-collapsed");
        toggle.textContent = collapsed ? "show" : "hide";
        fitLegend();
      });
      box.appendChild(toggle);
      box.appendChild(el("h2", null, "Layers"));
      var body = el("div", "cm-body");
      box.appendChild(body);
      body.appendChild(el("h3", null, "Base map"));
      [["outlines", "Outlines only (works offline)"], ["tiles", "Map tiles (needs internet)"]].forEach(function (b) {
        var label = el("label");
        var input = el("input");
        input.type = "radio";
        input.name = "cm-base";
        input.value = b[0];
        input.checked = base.current === b[0];
        input.addEventListener("change", function () { setBase(b[0]); });
        label.appendChild(input);
        label.appendChild(document.createTextNode(b[1]));
        body.appendChild(label);
      });
      body.appendChild(el("h3", null, "Overlays"));
      overlays.forEach(function (o) {
        var label = el("label");
        var input = el("input");
        input.type = "checkbox";
        input.checked = map.hasLayer(o.layer);
        input.addEventListener("change", function () {
          if (input.checked) o.layer.addTo(map); else map.removeLayer(o.layer);
          buildLegend();
          fitLegend();
        });
        o.checkbox = input;
        label.appendChild(input);
        label.appendChild(document.createTextNode(o.name));
        body.appendChild(label);
      });
    });

    var attribution = panel("bottomright", "cm-attribution", function () {});
    function updateAttribution() {
      var box = attribution.getContainer();
      box.textContent = "Leaflet · connectmap" + (base.current === "tiles" ? " · " + DATA.tiles.attribution : "");
      if (notice.text) box.appendChild(el("div", "cm-notice", notice.text));
    }

    function setBase(which) {
      base.current = which;
      if (which === "tiles") {
        tiles.addTo(map);
        outline.setStyle({ fillOpacity: 0 });
        container.classList.add("cm-tiles-on");
      } else {
        map.removeLayer(tiles);
        outline.setStyle({ fillOpacity: 1 });
        container.classList.remove("cm-tiles-on");
      }
      if (layersBox) {
        layersBox.querySelectorAll("input[name=cm-base]").forEach(function (input) {
          input.checked = input.value === which;
        });
      }
      updateAttribution();
    }
    // Tiles that cannot load (offline): go back to outlines once, and say why.
    tiles.on("tileerror", function () {
      if (base.current !== "tiles") return;
      notice.text = "Map tiles could not be loaded (offline?); showing outlines.";
      setBase("outlines");
    });

    // Legend (bottom right): one section per visible layer; schools and regions can switch colouring.
    var legend = panel("topright", "cm-legend", function () {});
    // The legend sits under the layer list; it scrolls rather than run off the bottom of the map.
    function fitLegend() {
      var box = legend.getContainer();
      var top = box.getBoundingClientRect().top - container.getBoundingClientRect().top;
      box.style.maxHeight = Math.max(120, container.clientHeight - top - 40) + "px";
    }
    map.on("resize", fitLegend);
    function swatch(symbol, colour, opacity) {
      var s = el("span", "cm-swatch cm-" + symbol);
      if (symbol === "triangle") s.style.borderBottomColor = colour;
      else if (symbol === "dashed") s.style.background = "repeating-linear-gradient(90deg, " + colour +
        " 0 5px, transparent 5px 8px)";
      else s.style.background = colour;
      if (opacity !== undefined) s.style.opacity = String(Math.max(opacity, 0.35));
      return s;
    }
    function legendRow(box, symbol, colour, label, count, opacity) {
      var row = el("div", "cm-legend-row");
      row.appendChild(swatch(symbol, colour, opacity));
      row.appendChild(el("span", null, label));
      if (count !== undefined && count !== null) row.appendChild(el("span", "cm-count", formatNumber(count, 0)));
      box.appendChild(row);
    }
    function colouringSelect(box, list, current, onChange) {
      if (list.length < 2) return;
      var select = el("select");
      select.setAttribute("aria-label", "Colour by");
      list.forEach(function (c) {
        var option = el("option", null, "Colour by: " + c.label);
        option.value = c.key;
        option.selected = c.key === current.key;
        select.appendChild(option);
      });
      select.addEventListener("change", function () { onChange(select.value); });
      box.appendChild(select);
    }
    function buildLegend() {
      var box = legend.getContainer();
      var collapsed = box.classList.contains("cm-collapsed");
      while (box.firstChild) box.removeChild(box.firstChild);
      var toggle = el("button", "cm-toggle", collapsed ? "show" : "hide");
      toggle.type = "button";
      toggle.addEventListener("click", function () {
        var now = box.classList.toggle("cm-collapsed");
        toggle.textContent = now ? "show" : "hide";
      });
      box.appendChild(toggle);
      box.appendChild(el("h2", null, "Legend"));
      var body = el("div", "cm-body");
      box.appendChild(body);
      box = body;
      overlays.forEach(function (o) {
        if (!map.hasLayer(o.layer)) return;
        var section = el("div", "cm-legend-section");
        section.dataset.layer = o.spec.id || o.name;
        box.appendChild(section);
        if (o.kind === "points") {
          var layer = o.layer;
          section.appendChild(el("h3", null, o.name + (layer.colouring && layer.spec.colourings.length === 1 &&
            layer.colouring.legend.length > 1 ? " by " + layer.colouring.label.toLowerCase() : "")));
          colouringSelect(section, layer.spec.colourings, layer.colouring, function (key) {
            layer.setColouring(key);
            buildLegend();
          });
          layer.colouring.legend.forEach(function (entry) {
            if (entry.count > 0) legendRow(section, o.spec.symbol, entry.colour, entry.label, entry.count);
          });
        } else if (o.kind === "line") {
          section.appendChild(el("h3", null, o.name));
          if (o.spec.colouring) {
            o.spec.colouring.legend.forEach(function (entry) {
              if (entry.count > 0) legendRow(section, "line", entry.colour, entry.label, entry.count);
            });
          } else {
            legendRow(section, "line", o.spec.colour, o.name, null);
          }
          if (o.spec.dashedCount > 0) {
            legendRow(section, "dashed", "#555", "dashed: not operational (planned, under construction, ...)",
              o.spec.dashedCount);
          }
        } else if (o.kind === "area") {
          legendRow(section, "square", o.spec.colour, o.name, null, o.spec.opacity);
        } else if (o.kind === "regions") {
          section.appendChild(el("h3", null, o.name));
          colouringSelect(section, o.spec.colourings, regions.colouring, function (key) {
            regions.colouring = o.spec.colourings.filter(function (c) { return c.key === key; })[0];
            regions.layer.setStyle(function (f) { return regionStyle(f.properties.i); });
            buildLegend();
          });
          if (regions.colouring) {
            section.appendChild(el("p", "cm-hint", regions.colouring.label));
            regions.colouring.legend.forEach(function (entry) {
              if (entry.count > 0) legendRow(section, "square", entry.colour, entry.label, entry.count);
            });
          }
        }
      });
    }

    setBase(DATA.tiles.on ? "tiles" : "outlines");
    buildLegend();
    fitLegend();

    window.connectmap = {
      map: map,
      points: pointLayers,
      overlays: overlays,
      regions: regions,
      openPointPopup: openPointPopup,
      fitAll: function () {
        var bounds = null;
        pointLayers.forEach(function (l) {
          if (l.size) bounds = bounds ? bounds.extend(l.getBounds()) : l.getBounds();
        });
        if (bounds) map.fitBounds(bounds, { padding: [20, 20], animate: false });
      },
      layer: function (id) { return pointLayers.filter(function (l) { return l.spec.id === id; })[0]; }
    };
    document.documentElement.setAttribute("data-cm-ready", "1");
    if (window.performance && performance.mark) performance.mark("cm-ready");
  }

  try {
    main();
  } catch (err) {
    var box = el("div", "cm-error", "The map could not be drawn: " + (err && err.message ? err.message : err));
    document.body.appendChild(box);
    throw err;
  }
})();
