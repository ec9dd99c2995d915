// The technicians board's map (only on a board with [console] map_tiles): a Leaflet map
// with a marker per technician at their last sign-in, read from the table's rows.
"use strict";
(function () {
  const box = document.getElementById("map");
  if (!box || !window.L) return;
  const map = L.map(box, { scrollWheelZoom: false });
  L.tileLayer(box.dataset.tiles, {
    maxZoom: 19,
    attribution: box.dataset.attribution || "",
  }).addTo(map);
  const points = [];
  for (const row of document.querySelectorAll("tr[data-lat]")) {
    const at = [Number(row.dataset.lat), Number(row.dataset.lon)];
    L.marker(at, { title: row.dataset.name, alt: row.dataset.name })
      .bindTooltip(row.dataset.name + " · " + row.dataset.state)
      .addTo(map);
    points.push(at);
  }
  if (points.length) {
    map.fitBounds(points, { padding: [30, 30], maxZoom: 16 });
  } else {
    map.setView([Number(box.dataset.lat), Number(box.dataset.lon)], 11);
  }
})();
