// Where require.js finds the front ends of this book's widgets: the vendored copies beside
// this file, never a CDN (the built book works offline). Loaded after require.js and before
// the ipywidgets HTML manager, which asks require.js for each widget module it meets.
(function () {
  var here = document.currentScript.src.replace(/[^/]*$/, "");
  window.requirejs.config({ paths: { anywidget: here + "vendor/anywidget-0.11.0/index" } });
})();
