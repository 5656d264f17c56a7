"""One self-contained, offline HTML page that plays a QR stream.

Frames are embedded as bit-packed module matrices (base64) and drawn on a
canvas at a whole number of pixels per module, with smoothing off.  The page
measures the display refresh with ``requestAnimationFrame`` and holds each
frame a whole number of refreshes.  Keys: space = pause, arrows = step,
+/- = speed.  No network access, no external scripts.
"""

from __future__ import annotations

import base64
import html
import json
import os

from sneakersync.media.qr.render import qr_matrix
from sneakersync.media.qr.sender import StreamPlan, frame_hold

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>__TITLE__</title>
<style>
html,body{margin:0;background:#fff;color:#222;font:16px system-ui,sans-serif;height:100%}
#wrap{display:flex;flex-direction:column;align-items:center;height:100%}
canvas{flex:1 1 auto;image-rendering:pixelated;image-rendering:crisp-edges}
#bar{padding:6px;text-align:center}
#fp{font:bold 1.3em ui-monospace,monospace;letter-spacing:.05em}
button{font-size:1em;margin:0 3px}
</style></head><body><div id="wrap">
<canvas id="c"></canvas>
<div id="bar"><div>__TITLE__ <span id="pk"></span> &middot; fingerprint <span id="fp"></span></div>
<div><button id="prev" title="previous (&larr;)">&#9664;</button>
<button id="play" title="pause/play (space)">pause</button>
<button id="next" title="next (&rarr;)">&#9654;</button>
<button id="slower" title="slower (-)">&minus;</button><span id="fps"></span>
<button id="faster" title="faster (+)">+</button>
frame <span id="fr"></span> &middot; shown <span id="shown">0</span></div></div></div>
<script type="application/json" id="qr-data">__DATA__</script>
<script>__SCRIPT__</script></body></html>
"""

# The player, kept apart from the page so a page served with a strict content security
# policy can load it as a file (``<script src>``) instead of inline.
PLAYER_JS = """"use strict";
const S=JSON.parse(document.getElementById("qr-data").textContent);
const n=S.modules, q=4, side=n+2*q;
const frames=S.frames.map(b=>Uint8Array.from(atob(b),c=>c.charCodeAt(0)));
const small=document.createElement("canvas"); small.width=side; small.height=side;
const sctx=small.getContext("2d"), img=sctx.createImageData(side,side);
const c=document.getElementById("c"), ctx=c.getContext("2d");
let i=0, paused=false, fps=S.fps, hold=1, tick=0, shown=0, refresh=60, samples=[], last=0;
const rowBytes=Math.ceil(n/8);
function draw(){
  const bits=frames[i]; img.data.fill(255);
  for(let y=0;y<n;y++)for(let x=0;x<n;x++){
    if(bits[y*rowBytes+(x>>3)]&(128>>(x&7))){const o=((y+q)*side+x+q)*4;img.data[o]=img.data[o+1]=img.data[o+2]=0;}
  }
  sctx.putImageData(img,0,0);
  const avail=Math.min(window.innerWidth, window.innerHeight-90);
  const px=Math.max(1,Math.floor(avail*devicePixelRatio/side));
  c.width=c.height=side*px; c.style.width=c.style.height=(side*px/devicePixelRatio)+"px";
  ctx.imageSmoothingEnabled=false; ctx.drawImage(small,0,0,side*px,side*px);
  const p=S.packets[S.packet_of[i]];
  document.getElementById("pk").textContent="packet "+(p.index+1)+" of "+S.packets.length;
  document.getElementById("fp").textContent=p.fingerprint;
  document.getElementById("fr").textContent=(i+1)+" / "+frames.length;
  document.getElementById("shown").textContent=shown;
  document.getElementById("fps").textContent=" "+(refresh/hold).toFixed(1)+" fps ";
  document.getElementById("play").textContent=paused?"play":"pause";
}
function setHold(){hold=Math.max(1,Math.round(refresh/fps));}
function step(d){i=(i+d+frames.length)%frames.length;shown++;draw();}
function loop(t){
  if(samples.length<30&&last){samples.push(t-last);if(samples.length==30){
    samples.sort((a,b)=>a-b);refresh=1000/samples[15];setHold();}}
  last=t;
  if(!paused&&++tick>=hold){tick=0;step(1);}
  requestAnimationFrame(loop);
}
function key(e){
  if(e.key==" "){paused=!paused;draw();e.preventDefault();}
  else if(e.key=="ArrowRight"){paused=true;step(1);}
  else if(e.key=="ArrowLeft"){paused=true;step(-1);}
  else if(e.key=="+"||e.key=="="){fps=Math.min(30,fps+1);setHold();draw();}
  else if(e.key=="-"){fps=Math.max(1,fps-1);setHold();draw();}
}
document.addEventListener("keydown",key);
document.getElementById("play").onclick=()=>key({key:" ",preventDefault(){}});
document.getElementById("next").onclick=()=>key({key:"ArrowRight"});
document.getElementById("prev").onclick=()=>key({key:"ArrowLeft"});
document.getElementById("faster").onclick=()=>key({key:"+"});
document.getElementById("slower").onclick=()=>key({key:"-"});
window.addEventListener("resize",draw);
setHold(); draw(); requestAnimationFrame(loop);
"""


def page_data(plan: StreamPlan, fps: float) -> dict[str, object]:
    import numpy as np

    frames = []
    for data in plan.frames:
        m = qr_matrix(data, plan.version)
        frames.append(base64.b64encode(np.packbits(m, axis=1).tobytes()).decode("ascii"))
    return {
        "modules": 17 + 4 * plan.version,
        "fps": frame_hold(fps)[1],
        "frames": frames,
        "packet_of": plan.packet_of,
        "packets": [{"index": p.index, "fingerprint": p.fingerprint, "k": p.k}
                    for p in plan.packets],
    }


def render_html(plan: StreamPlan, *, fps: float = 10.0, title: str = "") -> str:
    title = html.escape(title or "sneakersync QR stream")
    return (_PAGE.replace("__TITLE__", title).replace("__SCRIPT__", PLAYER_JS)
            .replace("__DATA__", data_block(plan, fps)))


def data_block(plan: StreamPlan, fps: float) -> str:
    """The stream as JSON safe to place inside ``<script type="application/json">``."""
    data = json.dumps(page_data(plan, fps), separators=(",", ":"))
    return data.replace("<", "\\u003c")


def write_html(plan: StreamPlan, path: str | os.PathLike[str], *, fps: float = 10.0,
               title: str = "") -> None:
    from sneakersync.store.durable import atomic_write

    atomic_write(path, render_html(plan, fps=fps, title=title).encode("utf-8"))


def unpack_frame(b64: str, modules: int) -> object:
    """Inverse of the page's encoding (dark = True); used by tests."""
    import numpy as np

    bits = np.frombuffer(base64.b64decode(b64), dtype=np.uint8).reshape(modules, -1)
    return np.unpackbits(bits, axis=1)[:, :modules].astype(bool)
