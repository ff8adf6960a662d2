/* gridgis embeddable map (/embed).
 *
 * Draws the grids, and our own streets, compounds and community outlines as context, with
 * plain Leaflet from the /embed/... JSON endpoints; searches addresses, roads, communities
 * and grids; and tells the host page which grid was clicked with postMessage. Plain
 * ES2017, no build step. Every request goes to the server that served the page, unless
 * the page was asked for a basemap. Text from the data is always set as text, never parsed
 * as HTML; errors are shown by their machine code in the page's language, never as the
 * server's (English) message.
 */
(function () {
  "use strict";

  const cfg = JSON.parse(document.getElementById("gridgis-embed-config").textContent);
  const T = cfg.labels;
  const statusBox = document.getElementById("gridgis-status");
  // Below this zoom a city-wide page draws no streets or compounds: too many to fetch.
  const CONTEXT_MIN_ZOOM = 15;
  const KIND_COLOURS = { "综合": "#2b8cbe", "专属": "#e6550d" };
  const SELECTED_STYLE = { color: "#d7301f", weight: 4, fillColor: "#fc8d59", fillOpacity: 0.45 };
  // The grids a search found (a road's, a community's): marked, but lighter than a selection.
  const FOUND_STYLE = { color: "#d7301f", weight: 2.5, fillColor: "#fc8d59", fillOpacity: 0.25 };
  const CONTEXT_STYLES = {
    streets: function (f) {
      const weight = { arterial: 4, street: 2.5 }[f.properties["class"]] || 1.2;
      return { color: "#9a9a9a", opacity: 0.9, weight: weight, className: "gridgis-street" };
    },
    compounds: function () {
      return {
        color: "#b8a98f", weight: 1, fillColor: "#efe6d3", fillOpacity: 0.7,
        className: "gridgis-compound",
      };
    },
    communities: function (f) {
      const own = cfg.community && f.properties.code === cfg.community;
      return {
        color: "#222", weight: own ? 3 : 1.5, dashArray: own ? null : "6 4", fill: false,
        className: "gridgis-community",
      };
    },
  };

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function status(text, isError) {
    statusBox.textContent = text || "";
    statusBox.className = text ? (isError ? "visible error" : "visible") : "";
  }

  // An embedding key the page was opened with (?key=) goes with every request it makes:
  // the server takes it off the address before anything logs or reads it.
  const pageKey = new URLSearchParams(window.location.search).get("key");

  function url(path, params) {
    const u = new URL(path, window.location.href);
    if (pageKey) u.searchParams.set("key", pageKey);
    Object.keys(params || {}).forEach(function (k) { u.searchParams.set(k, params[k]); });
    return u.toString();
  }

  // What to tell the user about a failed request: the label for its machine code, else a
  // generic one (a network failure has no status at all).
  function errorText(e) {
    const code = e && e.body && e.body.code;
    if (typeof code === "string" && Object.prototype.hasOwnProperty.call(T, "error_" + code)) {
      return T["error_" + code];
    }
    return e && e.status ? T.error_generic : T.error_network;
  }

  async function getJSON(address, signal) {
    const response = await fetch(address, { signal: signal, credentials: "same-origin" });
    const body = await response.json().catch(function () { return {}; });
    if (!response.ok) {
      const error = new Error(body.error || response.status + " " + response.statusText);
      error.status = response.status;
      error.body = body;
      throw error;
    }
    return body;
  }

  // --- the map ---------------------------------------------------------------------------
  const map = L.map("map", { zoomControl: true, minZoom: 3, maxZoom: 19 });
  L.control.scale({ imperial: false }).addTo(map);
  if (cfg.basemap) {
    const b = cfg.basemap;
    const options = {
      subdomains: b.subdomains, maxZoom: b.max_zoom, attribution: escapeHtml(b.attribution),
    };
    L.tileLayer(b.url, options).addTo(map);
    if (b.overlay_url) {
      L.tileLayer(b.overlay_url, { subdomains: b.subdomains, maxZoom: b.max_zoom }).addTo(map);
    }
  }
  map.createPane("gridgis-context").style.zIndex = 350; // under the grids
  map.createPane("gridgis-outline").style.zIndex = 450; // community lines over the grids
  map.getPane("gridgis-outline").style.pointerEvents = "none";

  const byCode = new Map();
  let selected = null;
  const gridLayer = L.geoJSON(null, {
    style: gridStyle,
    onEachFeature: function (feature, layer) {
      const p = feature.properties;
      byCode.set(p.code, layer);
      layer.bindTooltip(escapeHtml(p.code + " " + (p.name || "")), { sticky: true });
      layer.on("click", function (e) {
        select(layer, { popupAt: e.latlng });
        notifyHost(p);
      });
    },
  });
  const contextLayers = {};
  ["compounds", "streets"].forEach(function (kind) {
    contextLayers[kind] = L.geoJSON(null, {
      pane: "gridgis-context", interactive: false, style: CONTEXT_STYLES[kind],
    });
  });
  contextLayers.communities = L.geoJSON(null, {
    pane: "gridgis-outline", interactive: false, style: CONTEXT_STYLES.communities,
  });

  function gridStyle(feature) {
    return {
      color: "#08306b", weight: 1.5, opacity: 0.9, fillOpacity: 0.25,
      fillColor: KIND_COLOURS[feature.properties.kind] || "#2b8cbe",
      className: "gridgis-grid",
    };
  }

  function deselect() {
    if (!selected) return;
    gridLayer.resetStyle(selected);
    const old = selected.getElement();
    if (old) old.classList.remove("gridgis-selected");
    if (found.indexOf(selected) >= 0) selected.setStyle(FOUND_STYLE);
    selected = null;
  }

  function select(layer, options) {
    if (selected !== layer) deselect();
    selected = layer;
    layer.setStyle(SELECTED_STYLE);
    if (map.hasLayer(layer)) {
      layer.bringToFront();
      const node = layer.getElement();
      if (node) node.classList.add("gridgis-selected");
    }
    if (options.fit) map.fitBounds(layer.getBounds(), { padding: [24, 24], maxZoom: 18 });
    if (options.popupAt) {
      // Kept within the frame's height: embeds are often small.
      const popup = L.popup({
        maxWidth: 320, minWidth: 220, maxHeight: Math.max(160, map.getSize().y - 60),
      });
      // Services arrive (and unfold) after opening: re-fit and re-pan the popup then.
      const refit = function () { if (popup.isOpen()) popup.update(); };
      popup.setContent(gridInfo(layer.feature.properties, refit));
      layer.unbindPopup();
      layer.bindPopup(popup);
      layer.openPopup(options.popupAt);
    }
  }

  // The host page hears of every click; the target origin is ?origin= (default "*").
  function notifyHost(p) {
    if (window.parent === window) return;
    window.parent.postMessage({
      type: "gridgis:grid-click",
      code: p.code,
      name: p.name,
      community_code: p.community_code,
    }, cfg.origin);
  }

  // --- grid information ------------------------------------------------------------------
  function addRow(table, label, value) {
    if (value === null || value === undefined || value === "") return null;
    const tr = el("tr");
    tr.appendChild(el("th", null, label));
    const td = el("td");
    if (value instanceof Node) td.appendChild(value); else td.textContent = String(value);
    tr.appendChild(td);
    table.appendChild(tr);
    return tr;
  }

  function phoneLink(phone) {
    const a = el("a", "gridgis-phone", phone);
    a.href = "tel:" + String(phone).replace(/[^0-9+]/g, "");
    return a;
  }

  function gridInfo(p, refit) {
    const box = el("div", "gridgis-info");
    box.dataset.code = p.code;
    box.appendChild(el("div", "gridgis-info-title", p.name || p.code));
    const table = el("table");
    addRow(table, T.code, p.code);
    addRow(table, T.kind, cfg.kinds[p.kind] || p.kind);
    addRow(table, T.community, p.community_name);
    addRow(table, T.subdistrict, p.subdistrict_name);
    addRow(table, T.households, p.households);
    addRow(table, T.population, p.population);
    addRow(table, T.officer, p.officer_name);
    if (p.officer_phone) addRow(table, T.phone, phoneLink(p.officer_phone));
    addRow(table, T.party_branch, p.party_branch);
    box.appendChild(table);
    const services = el("div", "gridgis-services");
    box.appendChild(services);
    loadServices(p.code, services, refit);
    return box;
  }

  // Which department unit serves this grid (police area, health station, …): fetched on
  // click, because the page never needs it for grids nobody opens.
  async function loadServices(code, target, refit) {
    let body;
    try {
      body = await getJSON(url(cfg.urls.grid_info.replace("{code}", encodeURIComponent(code))));
    } catch (e) {
      return;
    }
    if (!body.services || !body.services.length) return;
    const details = el("details");
    details.appendChild(el("summary", null, T.services + " (" + body.services.length + ")"));
    const list = el("ul");
    body.services.forEach(function (s) {
      const li = el("li");
      li.appendChild(el("b", null, s.department));
      const attrs = s.attributes || {};
      Object.keys(attrs).forEach(function (key) {
        const value = attrs[key];
        if (value === null || value === "" || String(value) === s.id) return;
        li.appendChild(document.createTextNode(" · " + key + ": "));
        const phone = /电/.test(key) && /^\+?[0-9][0-9 -]{1,18}$/.test(String(value));
        li.appendChild(phone ? phoneLink(value) : document.createTextNode(String(value)));
      });
      list.appendChild(li);
    });
    details.appendChild(list);
    details.addEventListener("toggle", refit);
    target.appendChild(details);
    refit();
  }

  // --- context layers --------------------------------------------------------------------
  const contextKinds = cfg.layers.filter(function (k) { return k !== "grids"; });
  let contextAbort = null;

  async function loadContext(params, signal) {
    const kinds = contextKinds.filter(function (k) {
      return !(k === "communities" && params.bbox); // outlines load once, whole
    });
    const bodies = await Promise.all(kinds.map(function (kind) {
      return getJSON(url(cfg.urls.context, Object.assign({ layer: kind }, params)), signal);
    }));
    kinds.forEach(function (kind, i) {
      contextLayers[kind].clearLayers();
      contextLayers[kind].addData(bodies[i]);
    });
  }

  // A city-wide page fetches streets and compounds for what is in view, when zoomed in.
  async function refreshContext() {
    if (contextAbort) contextAbort.abort();
    if (map.getZoom() < CONTEXT_MIN_ZOOM) {
      ["streets", "compounds"].forEach(function (k) { contextLayers[k].clearLayers(); });
      return;
    }
    contextAbort = new AbortController();
    const b = map.getBounds().pad(0.25);
    const bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]
      .map(function (v) { return v.toFixed(6); }).join(",");
    try {
      await loadContext({ bbox: bbox }, contextAbort.signal);
    } catch (e) {
      if (e.name !== "AbortError") status(T.load_failed + ": " + errorText(e), true);
    }
  }

  // --- search: addresses, roads, communities, grids -----------------------------------------
  let addressMarker = null;
  let found = []; // grid layers the last search marked
  let searchResult = null;
  let searchInput = null;
  let searchAbort = null;
  let searchRun = 0; // a newer search makes an older one's late answer moot

  const Search = L.Control.extend({
    options: { position: "topright" },
    onAdd: function () {
      const box = L.DomUtil.create("div", "gridgis-search leaflet-bar");
      const form = L.DomUtil.create("form", "", box);
      form.setAttribute("role", "search");
      const input = L.DomUtil.create("input", "", form);
      input.type = "search";
      input.name = "q";
      input.placeholder = T.search;
      input.setAttribute("aria-label", T.search);
      searchInput = input;
      const button = L.DomUtil.create("button", "", form);
      button.type = "submit";
      button.textContent = T.search_button;
      searchResult = L.DomUtil.create("div", "gridgis-search-result", box);
      searchResult.setAttribute("aria-live", "polite");
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        search(input.value);
      });
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.disableScrollPropagation(box);
      return box;
    },
  });

  // What the last search put on the map goes before anything new is shown.
  function clearSearch() {
    searchRun += 1;
    if (addressMarker) addressMarker.remove();
    addressMarker = null;
    const marked = found;
    found = [];
    marked.forEach(function (layer) {
      gridLayer.resetStyle(layer);
      const node = layer.getElement();
      if (node) node.classList.remove("gridgis-found");
    });
    deselect();
    map.closePopup();
    ["kind", "grid", "grids"].forEach(function (k) { delete searchResult.dataset[k]; });
    searchResult.textContent = "";
    return searchRun;
  }

  async function search(text) {
    const q = text.trim();
    if (!q) return;
    if (searchAbort) searchAbort.abort();
    searchAbort = new AbortController();
    const run = clearSearch();
    searchResult.textContent = T.searching;
    searchResult.className = "gridgis-search-result visible";
    let body;
    try {
      body = await getJSON(url(cfg.urls.search, { q: q }), searchAbort.signal);
    } catch (e) {
      if (e.name === "AbortError" || run !== searchRun) return;
      searchResult.textContent = "";
      searchResult.appendChild(el("div", "error", errorText(e)));
      return;
    }
    if (run !== searchRun) return;
    if (body.match) await showPlace(body.match, run);
    else showCandidates(body);
  }

  function showCandidates(body) {
    searchResult.textContent = "";
    if (!body.candidates.length) {
      searchResult.appendChild(el("div", "gridgis-no-match", T.no_results));
      return;
    }
    const heading = body.ambiguous ? T.several : T.no_match;
    searchResult.appendChild(el("div", "gridgis-no-match", heading));
    const list = el("ul");
    body.candidates.forEach(function (c) {
      const li = el("li");
      const button = el("button", "gridgis-candidate");
      button.type = "button";
      button.dataset.kind = c.kind;
      button.appendChild(el("span", "gridgis-candidate-kind", T["kind_" + c.kind]));
      button.appendChild(document.createTextNode(" " + c.text));
      if (c.context) button.appendChild(el("span", "gridgis-candidate-context", " · " + c.context));
      // A candidate carries all the map needs: choosing it shows it, no second search.
      button.addEventListener("click", function () {
        searchInput.value = c.text;
        showPlace(c, clearSearch());
      });
      li.appendChild(button);
      list.appendChild(li);
    });
    searchResult.appendChild(list);
  }

  function placeTable(p) {
    const table = el("table");
    const g = p.grid;
    if (p.kind === "address") {
      addRow(table, T.matched, p.text);
      addRow(table, T.score, Math.round(p.score * 100) + "%");
      addRow(table, T.grid, g ? g.code + (g.name ? " " + g.name : "") : T.no_grid);
    } else if (p.kind === "grid") {
      addRow(table, T.name, g.name);
      addRow(table, T.code, g.code);
    } else if (p.kind === "community") {
      addRow(table, T.community, p.text);
      addRow(table, T.community_code, p.code);
      addRow(table, T.subdistrict, p.context);
      addRow(table, T.grid_count, p.grids.length);
    } else {
      addRow(table, T.road, p.text);
      addRow(table, T.communities, p.context);
      addRow(table, T.grid_count, p.grids.length || T.road_no_grid);
    }
    if (g) {
      addRow(table, T.community, g.community_name);
      if (g.officer) {
        addRow(table, T.officer, g.officer.name);
        if (g.officer.phone) addRow(table, T.phone, phoneLink(g.officer.phone));
      }
    }
    return table;
  }

  async function showPlace(p, run) {
    searchResult.textContent = "";
    searchResult.className = "gridgis-search-result visible";
    searchResult.appendChild(placeTable(p));
    searchResult.dataset.kind = p.kind;
    searchResult.dataset.grids = p.grids.join(",");
    if (p.kind === "address" || p.kind === "grid") searchResult.dataset.grid = p.grids[0] || "";
    if (p.point) {
      addressMarker = L.circleMarker([p.point.lat, p.point.lon], {
        radius: 7, color: "#fff", weight: 2, fillColor: "#d7301f", fillOpacity: 1,
        className: "gridgis-address", interactive: false,
      }).addTo(map);
    }
    const layers = await ensureGrids(p.grids);
    if (run !== searchRun) return; // another search began meanwhile
    if (layers.length === 1 && (p.kind === "address" || p.kind === "grid")) {
      select(layers[0], {});
    } else {
      layers.forEach(function (layer) {
        layer.setStyle(FOUND_STYLE);
        layer.bringToFront();
        const node = layer.getElement();
        if (node) node.classList.add("gridgis-found");
      });
      found = layers;
    }
    const bounds = L.latLngBounds([]);
    layers.forEach(function (layer) { bounds.extend(layer.getBounds()); });
    if (!layers.length && !p.point && p.bbox) { // a road in no grid: its line's extent
      bounds.extend([[p.bbox[1], p.bbox[0]], [p.bbox[3], p.bbox[2]]]);
    }
    moveTo(function () {
      if (run !== searchRun) return;
      if (bounds.isValid()) map.fitBounds(bounds, { padding: [24, 24], maxZoom: 18 });
      else if (p.point) map.setView([p.point.lat, p.point.lon], Math.max(map.getZoom(), 17));
    });
  }

  // Leaflet ignores a zoom asked for while another one animates (the last search's, say):
  // move once that one has ended.
  function moveTo(go) {
    if (map._animatingZoom) map.once("zoomend", go);
    else go();
  }

  // The grids a search found may lie outside the community this page shows: fetch the
  // missing ones in one request.
  async function ensureGrids(codes) {
    const missing = codes.filter(function (code) { return !byCode.has(code); });
    if (missing.length) {
      try {
        gridLayer.addData(await getJSON(url(cfg.urls.grid_geojson, { grid: missing.join(",") })));
      } catch (e) {
        status(T.load_failed + ": " + errorText(e), true);
      }
    }
    return codes.map(function (code) { return byCode.get(code); }).filter(Boolean);
  }

  // --- start -----------------------------------------------------------------------------
  async function start() {
    status(T.loading);
    const scoped = Boolean(cfg.community);
    const context = scoped && contextKinds.length
      ? loadContext({ community: cfg.community })
      : Promise.resolve();
    const outlines = !scoped && contextKinds.indexOf("communities") >= 0
      ? getJSON(url(cfg.urls.context, { layer: "communities" })).then(function (fc) {
        contextLayers.communities.addData(fc);
      })
      : Promise.resolve();
    const grids = await getJSON(url(cfg.urls.grids));
    gridLayer.addData(grids);
    const focus = cfg.grid ? byCode.get(cfg.grid) : null;
    // The view first: Leaflet adds layers to a map only once it has one.
    if (!grids.features.length) {
      map.fitWorld();
      status(T.no_grids, true);
    } else if (focus) {
      map.fitBounds(focus.getBounds(), { padding: [24, 24], maxZoom: 18 });
    } else {
      map.fitBounds(gridLayer.getBounds(), { padding: [12, 12] });
    }
    const overlays = {};
    if (cfg.layers.indexOf("grids") >= 0) {
      gridLayer.addTo(map);
      overlays[T.layer_grids] = gridLayer;
    }
    contextKinds.forEach(function (kind) {
      contextLayers[kind].addTo(map);
      overlays[T["layer_" + kind]] = contextLayers[kind];
    });
    if (Object.keys(overlays).length > 1) {
      L.control.layers(null, overlays, { collapsed: true }).addTo(map);
    }
    new Search().addTo(map);
    if (focus) select(focus, {});
    if (!scoped && (contextKinds.indexOf("streets") >= 0 || contextKinds.indexOf("compounds") >= 0)) {
      map.on("moveend", refreshContext);
      await refreshContext();
    }
    await Promise.all([context, outlines]);
    if (grids.features.length) status("");
  }

  window.gridgisEmbed = {
    map: map,
    grids: gridLayer,
    context: contextLayers,
    byCode: byCode,
    selected: function () { return selected ? selected.feature.properties.code : null; },
    ready: start().then(function () {
      document.body.dataset.ready = "1";
    }, function (e) {
      status(T.load_failed + ": " + errorText(e), true);
      document.body.dataset.ready = "error";
    }),
  };
})();
