{#- A folium layer (gridgis.review.report.GeoJsonLayer) whose GeoJSON is in the page, as
    data (|tojson): `library` once per page, `script` per layer. Points are circle markers
    (paths, no marker images to fetch); popup text is set as text, never parsed as HTML. -#}
{% macro library() %}
function gridgisReviewLayer(data, spec) {
  "use strict";
  function popup(feature) {
    var box = document.createElement("table");
    box.className = "gridgis-popup";
    spec.popup.forEach(function (field) {
      var value = feature.properties[field[0]];
      if (value === null || value === undefined || value === "") return;
      var row = box.insertRow();
      var label = document.createElement("th");
      label.textContent = field[1];
      row.appendChild(label);
      row.insertCell().textContent = String(value);
    });
    return box;
  }
  return L.geoJSON(data, {
    style: function () { return spec.style; },
    pointToLayer: function (feature, latlng) {
      return L.circleMarker(latlng, Object.assign({ radius: spec.radius }, spec.style));
    },
    onEachFeature: function (feature, item) {
      if (spec.popup.length) item.bindPopup(function () { return popup(feature); });
    },
  });
}
{% endmacro %}

{% macro script(this, kwargs) %}
var {{ this.get_name() }} = gridgisReviewLayer({{ this.data|tojson }}, {{ this.spec|tojson }});
{% endmacro %}
