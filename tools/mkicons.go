//go:build ignore

// mkicons draws Streamlab's icon: three partition logs of records on a blue
// tile, the newest record of each in amber. It writes static/web/icon.svg,
// icon-192.png and icon-512.png. Run from the repo root:
//
//	go run tools/mkicons.go
package main

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"log"
	"os"
	"strings"
)

// All geometry is in a 512x512 box.
type rect struct {
	x, y, w, h, r float64
	c             color.NRGBA
}

var (
	tile   = color.NRGBA{0x1f, 0x4e, 0x79, 0xff}
	record = color.NRGBA{0xe8, 0xf1, 0xf8, 0xff}
	newest = color.NRGBA{0xf2, 0xa5, 0x41, 0xff}
)

func shapes() []rect {
	s := []rect{{0, 0, 512, 512, 96, tile}}
	const cell, gap, x0, y0, rowGap = 56.0, 14.0, 92.0, 142.0, 30.0
	for row, n := range []int{5, 4, 3} {
		y := y0 + float64(row)*(cell+rowGap)
		for i := 0; i < n; i++ {
			c := record
			if i == n-1 {
				c = newest
			}
			s = append(s, rect{x0 + float64(i)*(cell+gap), y, cell, cell, 10, c})
		}
	}
	return s
}

func svg() string {
	var b strings.Builder
	b.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 512 512" width="512" height="512">` + "\n")
	for _, r := range shapes() {
		fmt.Fprintf(&b, `<rect x="%g" y="%g" width="%g" height="%g" rx="%g" fill="#%02x%02x%02x"/>`+"\n",
			r.x, r.y, r.w, r.h, r.r, r.c.R, r.c.G, r.c.B)
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func (r rect) contains(x, y float64) bool {
	if x < r.x || y < r.y || x >= r.x+r.w || y >= r.y+r.h {
		return false
	}
	cx := min(max(x, r.x+r.r), r.x+r.w-r.r)
	cy := min(max(y, r.y+r.r), r.y+r.h-r.r)
	dx, dy := x-cx, y-cy
	return dx*dx+dy*dy <= r.r*r.r
}

// raster draws the shapes at size x size with 4x4 supersampling.
func raster(size int) *image.NRGBA {
	const ss = 4
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	scale := 512 / float64(size)
	sh := shapes()
	for py := 0; py < size; py++ {
		for px := 0; px < size; px++ {
			var r, g, b, a float64
			for sy := 0; sy < ss; sy++ {
				for sx := 0; sx < ss; sx++ {
					x := (float64(px) + (float64(sx)+0.5)/ss) * scale
					y := (float64(py) + (float64(sy)+0.5)/ss) * scale
					for i := len(sh) - 1; i >= 0; i-- {
						if sh[i].contains(x, y) {
							c := sh[i].c
							r, g, b, a = r+float64(c.R), g+float64(c.G), b+float64(c.B), a+255
							break
						}
					}
				}
			}
			if a == 0 {
				continue
			}
			n := a / 255
			img.SetNRGBA(px, py, color.NRGBA{uint8(r / n), uint8(g / n), uint8(b / n), uint8(a / (ss * ss))})
		}
	}
	return img
}

func main() {
	if err := os.WriteFile("static/web/icon.svg", []byte(svg()), 0o644); err != nil {
		log.Fatal(err)
	}
	for _, size := range []int{192, 512} {
		f, err := os.Create(fmt.Sprintf("static/web/icon-%d.png", size))
		if err != nil {
			log.Fatal(err)
		}
		enc := png.Encoder{CompressionLevel: png.BestCompression}
		if err := enc.Encode(f, raster(size)); err != nil {
			log.Fatal(err)
		}
		if err := f.Close(); err != nil {
			log.Fatal(err)
		}
	}
}
