{#- A folium layer (api.mappage.GeoJsonByUrl) that the browser fills from one of our
    URLs, so the page itself holds no geometry: `library` once per page, `script` per
    layer, with its `spec` as data (|tojson). Text from the data is set as text, never
    parsed as HTML. -#}
{% macro library() %}
function gridgisGeoJsonByUrl(map, spec) {
  "use strict";
  function style(feature) {
    var s = Object.assign({}, spec.style);
    Object.keys(spec.style_by).forEach(function (key) {
      var rule = spec.style_by[key];
      var value = rule.values[feature.properties[rule.property]];
      s[key] = value === undefined ? rule.otherwise : value;
    });
    return s;
  }
  function shown(value) {
    return value === null || value === undefined || value === "" ? "—" : String(value);
  }
  function table(feature) {
    var out = document.createElement("table");
    spec.popup.forEach(function (field) {
      var row = out.insertRow();
      var label = document.createElement("th");
      label.textContent = field[1];
      row.appendChild(label);
      row.insertCell().textContent = shown(feature.properties[field[0]]);
    });
    return out;
  }
  function tooltip(feature) {
    var out = document.createElement("span");
    out.textContent = spec.tooltip.map(function (key) {
      return shown(feature.properties[key]);
    }).join(" ");
    return out;
  }
  var layer = L.geoJSON(null, {
    style: style,
    interactive: spec.interactive,
    onEachFeature: function (feature, item) {
      if (spec.tooltip.length) item.bindTooltip(function () { return tooltip(feature); });
      if (spec.popup.length) item.bindPopup(function () { return table(feature); });
      if (spec.highlight) {
        item.on({
          mouseover: function (e) { e.target.setStyle(spec.highlight); },
          mouseout: function (e) { layer.resetStyle(e.target); },
        });
      }
    },
  });
  function load(url, signal) {
    return fetch(url, { credentials: "same-origin", signal: signal }).then(function (r) {
      if (!r.ok) throw new Error(url + ": HTTP " + r.status);
      return r.json();
    }).then(function (data) {
      layer.clearLayers();
      layer.addData(data);
    });
  }
  function report(error) {
    if (error.name !== "AbortError") console.error("gridgis map:", error.message);
  }
  if (spec.min_zoom === null) {
    load(spec.url).catch(report);
  } else {
    // What is in view, again after each move; nothing further out than min_zoom.
    var pending = null;
    var refresh = function () {
      if (pending) pending.abort();
      pending = null;
      if (map.getZoom() < spec.min_zoom) { layer.clearLayers(); return; }
      pending = new AbortController();
      var b = map.getBounds().pad(0.25);
      var bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]
        .map(function (v) { return v.toFixed(6); }).join(",");
      var sep = spec.url.indexOf("?") < 0 ? "?" : "&";
      load(spec.url + sep + "bbox=" + bbox, pending.signal).catch(report);
    };
    map.on("moveend", refresh);
    map.whenReady(refresh);
  }
  return layer;
}
{% endmacro %}

{% macro script(this, kwargs) %}
var {{ this.get_name() }} = gridgisGeoJsonByUrl({{ this._parent.get_name() }}, {{ this.spec|tojson }});
{% endmacro %}
