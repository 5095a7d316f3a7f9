// Package htmlform reads the forms of an HTML page the way a browser would
// submit them: each form's action and method, its named inputs with their
// values (hidden ones included), and its submit buttons. Clients that drive
// the hosted pages without a browser (interop/hosted, bench/load, web's
// tests) read pages with it instead of each scraping markup with its own
// regular expressions.
//
// It understands the HTML the hosted pages are made of (web/templates), not
// all of HTML: no <select>, <textarea> or form-associated elements outside
// their <form>. It never fails: markup it cannot read yields fewer forms or
// fields, never an error or a panic.
package htmlform
