;; Conv2D, NHWC, dilation 1, in 128-bit wasm SIMD, on the tfjs wasm backend's own memory:
;;
;;   out[b, y, x, o] = bias[o] + sum over i, j, c of X[b, y*sh + i - top, x*sw + j - left, c] * W[i, j, c, o]
;;
;; Taps that fall outside X read zeros (padding), by leaving them out of the sum. Four neighbouring
;; output pixels by eight output channels stay in registers while the taps and input channels stream
;; past (W's eight channels loaded once for the four pixels); pixels whose taps cross the left or right
;; edge go one at a time. A single output channel (the decoder's last conv) has its own tiles, with
;; vectors along the input channels. W is read in its own layout [kh, kw, c, o]: nothing is packed.
(module
  (import "env" "memory" (memory 0))

  ;; Four output pixels by eight output channels. X at $xp (next pixel $xs bytes on, next tap row
  ;; $xrow), W at $wp (skip $wskip bytes after each tap row), bias at $bp (0: none), out at $op (next
  ;; pixel $os bytes on). $ni tap rows of $nj taps, $ci input channels each; W's row stride is $co4.
  (func $tile4x8 (param $xp i32) (param $wp i32) (param $bp i32) (param $op i32)
                 (param $xs i32) (param $os i32) (param $ci i32) (param $co4 i32)
                 (param $ni i32) (param $nj i32) (param $xrow i32) (param $wskip i32)
    (local $a00 v128) (local $a01 v128) (local $a10 v128) (local $a11 v128)
    (local $a20 v128) (local $a21 v128) (local $a30 v128) (local $a31 v128)
    (local $w0 v128) (local $w1 v128) (local $s v128)
    (local $j i32) (local $c i32) (local $p i32) (local $xi i32) (local $xs2 i32) (local $xs3 i32)
    (if (local.get $bp) (then
      (local.set $a00 (v128.load (local.get $bp)))
      (local.set $a01 (v128.load offset=16 (local.get $bp)))))
    (local.set $a10 (local.get $a00)) (local.set $a11 (local.get $a01))
    (local.set $a20 (local.get $a00)) (local.set $a21 (local.get $a01))
    (local.set $a30 (local.get $a00)) (local.set $a31 (local.get $a01))
    (local.set $xs2 (i32.add (local.get $xs) (local.get $xs)))
    (local.set $xs3 (i32.add (local.get $xs2) (local.get $xs)))
    (block $done
      (br_if $done (i32.or (i32.eqz (local.get $ni)) (i32.eqz (local.get $nj))))
      (loop $rows
        (local.set $xi (local.get $xp))
        (local.set $j (local.get $nj))
        (loop $cols
          (local.set $p (local.get $xi))
          (local.set $c (local.get $ci))
          (loop $chans
            (local.set $w0 (v128.load (local.get $wp)))
            (local.set $w1 (v128.load offset=16 (local.get $wp)))
            (local.set $s (v128.load32_splat (local.get $p)))
            (local.set $a00 (f32x4.add (local.get $a00) (f32x4.mul (local.get $s) (local.get $w0))))
            (local.set $a01 (f32x4.add (local.get $a01) (f32x4.mul (local.get $s) (local.get $w1))))
            (local.set $s (v128.load32_splat (i32.add (local.get $p) (local.get $xs))))
            (local.set $a10 (f32x4.add (local.get $a10) (f32x4.mul (local.get $s) (local.get $w0))))
            (local.set $a11 (f32x4.add (local.get $a11) (f32x4.mul (local.get $s) (local.get $w1))))
            (local.set $s (v128.load32_splat (i32.add (local.get $p) (local.get $xs2))))
            (local.set $a20 (f32x4.add (local.get $a20) (f32x4.mul (local.get $s) (local.get $w0))))
            (local.set $a21 (f32x4.add (local.get $a21) (f32x4.mul (local.get $s) (local.get $w1))))
            (local.set $s (v128.load32_splat (i32.add (local.get $p) (local.get $xs3))))
            (local.set $a30 (f32x4.add (local.get $a30) (f32x4.mul (local.get $s) (local.get $w0))))
            (local.set $a31 (f32x4.add (local.get $a31) (f32x4.mul (local.get $s) (local.get $w1))))
            (local.set $p (i32.add (local.get $p) (i32.const 4)))
            (local.set $wp (i32.add (local.get $wp) (local.get $co4)))
            (br_if $chans (local.tee $c (i32.sub (local.get $c) (i32.const 1)))))
          (local.set $xi (local.get $p))
          (br_if $cols (local.tee $j (i32.sub (local.get $j) (i32.const 1)))))
        (local.set $wp (i32.add (local.get $wp) (local.get $wskip)))
        (local.set $xp (i32.add (local.get $xp) (local.get $xrow)))
        (br_if $rows (local.tee $ni (i32.sub (local.get $ni) (i32.const 1))))))
    (v128.store (local.get $op) (local.get $a00))
    (v128.store offset=16 (local.get $op) (local.get $a01))
    (local.set $op (i32.add (local.get $op) (local.get $os)))
    (v128.store (local.get $op) (local.get $a10))
    (v128.store offset=16 (local.get $op) (local.get $a11))
    (local.set $op (i32.add (local.get $op) (local.get $os)))
    (v128.store (local.get $op) (local.get $a20))
    (v128.store offset=16 (local.get $op) (local.get $a21))
    (local.set $op (i32.add (local.get $op) (local.get $os)))
    (v128.store (local.get $op) (local.get $a30))
    (v128.store offset=16 (local.get $op) (local.get $a31)))

  ;; One output pixel by eight output channels (the pixels near the left and right edges).
  (func $tile1x8 (param $xp i32) (param $wp i32) (param $bp i32) (param $op i32)
                 (param $ci i32) (param $co4 i32)
                 (param $ni i32) (param $nj i32) (param $xrow i32) (param $wskip i32)
    (local $a0 v128) (local $a1 v128) (local $s v128)
    (local $j i32) (local $c i32) (local $p i32) (local $xi i32)
    (if (local.get $bp) (then
      (local.set $a0 (v128.load (local.get $bp)))
      (local.set $a1 (v128.load offset=16 (local.get $bp)))))
    (block $done
      (br_if $done (i32.or (i32.eqz (local.get $ni)) (i32.eqz (local.get $nj))))
      (loop $rows
        (local.set $xi (local.get $xp))
        (local.set $j (local.get $nj))
        (loop $cols
          (local.set $p (local.get $xi))
          (local.set $c (local.get $ci))
          (loop $chans
            (local.set $s (v128.load32_splat (local.get $p)))
            (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $s) (v128.load (local.get $wp)))))
            (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $s) (v128.load offset=16 (local.get $wp)))))
            (local.set $p (i32.add (local.get $p) (i32.const 4)))
            (local.set $wp (i32.add (local.get $wp) (local.get $co4)))
            (br_if $chans (local.tee $c (i32.sub (local.get $c) (i32.const 1)))))
          (local.set $xi (local.get $p))
          (br_if $cols (local.tee $j (i32.sub (local.get $j) (i32.const 1)))))
        (local.set $wp (i32.add (local.get $wp) (local.get $wskip)))
        (local.set $xp (i32.add (local.get $xp) (local.get $xrow)))
        (br_if $rows (local.tee $ni (i32.sub (local.get $ni) (i32.const 1))))))
    (v128.store (local.get $op) (local.get $a0))
    (v128.store offset=16 (local.get $op) (local.get $a1)))

  (func $hsum (param $v v128) (result f32)
    (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $v)) (f32x4.extract_lane 1 (local.get $v)))
      (f32.add (f32x4.extract_lane 2 (local.get $v)) (f32x4.extract_lane 3 (local.get $v)))))

  ;; One output channel, four output pixels: vectors along the input channels ($ci a multiple of 4),
  ;; each pixel's lanes summed at the end. Same pointers as $tile4x8; W's row stride is 4 bytes.
  (func $column4 (param $xp i32) (param $wp i32) (param $bp i32) (param $op i32)
                 (param $xs i32) (param $os i32) (param $ci i32)
                 (param $ni i32) (param $nj i32) (param $xrow i32) (param $wskip i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $w0 v128)
    (local $j i32) (local $c i32) (local $p i32) (local $xi i32) (local $xs2 i32) (local $xs3 i32) (local $b f32)
    (local.set $xs2 (i32.add (local.get $xs) (local.get $xs)))
    (local.set $xs3 (i32.add (local.get $xs2) (local.get $xs)))
    (block $done
      (br_if $done (i32.or (i32.eqz (local.get $ni)) (i32.eqz (local.get $nj))))
      (loop $rows
        (local.set $xi (local.get $xp))
        (local.set $j (local.get $nj))
        (loop $cols
          (local.set $p (local.get $xi))
          (local.set $c (i32.shr_u (local.get $ci) (i32.const 2)))
          (loop $chans
            (local.set $w0 (v128.load (local.get $wp)))
            (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $w0) (v128.load (local.get $p)))))
            (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $w0) (v128.load (i32.add (local.get $p) (local.get $xs))))))
            (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $w0) (v128.load (i32.add (local.get $p) (local.get $xs2))))))
            (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $w0) (v128.load (i32.add (local.get $p) (local.get $xs3))))))
            (local.set $p (i32.add (local.get $p) (i32.const 16)))
            (local.set $wp (i32.add (local.get $wp) (i32.const 16)))
            (br_if $chans (local.tee $c (i32.sub (local.get $c) (i32.const 1)))))
          (local.set $xi (local.get $p))
          (br_if $cols (local.tee $j (i32.sub (local.get $j) (i32.const 1)))))
        (local.set $wp (i32.add (local.get $wp) (local.get $wskip)))
        (local.set $xp (i32.add (local.get $xp) (local.get $xrow)))
        (br_if $rows (local.tee $ni (i32.sub (local.get $ni) (i32.const 1))))))
    (if (local.get $bp) (then (local.set $b (f32.load (local.get $bp)))))
    (f32.store (local.get $op) (f32.add (local.get $b) (call $hsum (local.get $a0))))
    (local.set $op (i32.add (local.get $op) (local.get $os)))
    (f32.store (local.get $op) (f32.add (local.get $b) (call $hsum (local.get $a1))))
    (local.set $op (i32.add (local.get $op) (local.get $os)))
    (f32.store (local.get $op) (f32.add (local.get $b) (call $hsum (local.get $a2))))
    (local.set $op (i32.add (local.get $op) (local.get $os)))
    (f32.store (local.get $op) (f32.add (local.get $b) (call $hsum (local.get $a3)))))

  ;; One output channel, one output pixel.
  (func $column1 (param $xp i32) (param $wp i32) (param $bp i32) (param $op i32)
                 (param $ci i32) (param $ni i32) (param $nj i32) (param $xrow i32) (param $wskip i32)
    (local $a0 v128) (local $j i32) (local $c i32) (local $p i32) (local $xi i32) (local $b f32)
    (block $done
      (br_if $done (i32.or (i32.eqz (local.get $ni)) (i32.eqz (local.get $nj))))
      (loop $rows
        (local.set $xi (local.get $xp))
        (local.set $j (local.get $nj))
        (loop $cols
          (local.set $p (local.get $xi))
          (local.set $c (i32.shr_u (local.get $ci) (i32.const 2)))
          (loop $chans
            (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load (local.get $wp)) (v128.load (local.get $p)))))
            (local.set $p (i32.add (local.get $p) (i32.const 16)))
            (local.set $wp (i32.add (local.get $wp) (i32.const 16)))
            (br_if $chans (local.tee $c (i32.sub (local.get $c) (i32.const 1)))))
          (local.set $xi (local.get $p))
          (br_if $cols (local.tee $j (i32.sub (local.get $j) (i32.const 1)))))
        (local.set $wp (i32.add (local.get $wp) (local.get $wskip)))
        (local.set $xp (i32.add (local.get $xp) (local.get $xrow)))
        (br_if $rows (local.tee $ni (i32.sub (local.get $ni) (i32.const 1))))))
    (if (local.get $bp) (then (local.set $b (f32.load (local.get $bp)))))
    (f32.store (local.get $op) (f32.add (local.get $b) (call $hsum (local.get $a0)))))

  ;; out [b, oh, ow, co] at $out from X [b, h, w, ci] at $x, W [kh, kw, ci, co] at $w and bias [co] at
  ;; $bias (0: none). Needs co a multiple of 8, or co = 1 and ci a multiple of 4 (the caller checks).
  (func (export "conv2d")
        (param $x i32) (param $w i32) (param $bias i32) (param $out i32)
        (param $b i32) (param $h i32) (param $wd i32) (param $ci i32)
        (param $oh i32) (param $ow i32) (param $co i32)
        (param $kh i32) (param $kw i32) (param $sh i32) (param $sw i32) (param $top i32) (param $left i32)
    (local $ib i32) (local $oy i32) (local $ox i32) (local $o i32)
    (local $iy0 i32) (local $i0 i32) (local $ni i32) (local $ix0 i32) (local $j0 i32) (local $nj i32)
    (local $oxa i32) (local $oxb i32)
    (local $ci4 i32) (local $co4 i32) (local $xrow i32) (local $wtap i32) (local $xs i32)
    (local $xrowp i32) (local $wrow i32) (local $orow i32) (local $xp i32) (local $wp i32) (local $op i32)
    (local.set $ci4 (i32.shl (local.get $ci) (i32.const 2)))
    (local.set $co4 (i32.shl (local.get $co) (i32.const 2)))
    (local.set $xrow (i32.mul (local.get $wd) (local.get $ci4)))
    (local.set $wtap (i32.mul (local.get $ci) (local.get $co4))) ;; bytes of W per tap
    (local.set $xs (i32.mul (local.get $sw) (local.get $ci4)))
    ;; interior columns [oxa, oxb): every tap inside the row
    (local.set $oxa (i32.const 0))
    (block $a (loop $a_loop
      (br_if $a (i32.ge_s (local.get $oxa) (local.get $ow)))
      (br_if $a (i32.ge_s (i32.sub (i32.mul (local.get $oxa) (local.get $sw)) (local.get $left)) (i32.const 0)))
      (local.set $oxa (i32.add (local.get $oxa) (i32.const 1)))
      (br $a_loop)))
    (local.set $oxb (local.get $ow))
    (block $bnd (loop $b_loop
      (br_if $bnd (i32.le_s (local.get $oxb) (local.get $oxa)))
      (br_if $bnd (i32.le_s (i32.add (i32.sub (i32.mul (i32.sub (local.get $oxb) (i32.const 1)) (local.get $sw)) (local.get $left)) (local.get $kw)) (local.get $wd)))
      (local.set $oxb (i32.sub (local.get $oxb) (i32.const 1)))
      (br $b_loop)))
    (local.set $ib (i32.const 0))
    (block $images_done (loop $images
      (br_if $images_done (i32.ge_u (local.get $ib) (local.get $b)))
      (local.set $oy (i32.const 0))
      (block $rows_done (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $oy) (local.get $oh)))
        ;; tap rows i in [i0, i0 + ni) fall inside X
        (local.set $iy0 (i32.sub (i32.mul (local.get $oy) (local.get $sh)) (local.get $top)))
        (local.set $i0 (select (i32.sub (i32.const 0) (local.get $iy0)) (i32.const 0) (i32.lt_s (local.get $iy0) (i32.const 0))))
        (local.set $ni (i32.sub
          (select (local.get $kh) (i32.sub (local.get $h) (local.get $iy0)) (i32.le_s (local.get $kh) (i32.sub (local.get $h) (local.get $iy0))))
          (local.get $i0)))
        (if (i32.lt_s (local.get $ni) (i32.const 0)) (then (local.set $ni (i32.const 0))))
        (local.set $xrowp (i32.add (local.get $x)
          (i32.mul (i32.add (i32.mul (local.get $ib) (local.get $h)) (i32.add (local.get $iy0) (local.get $i0))) (local.get $xrow))))
        (local.set $wrow (i32.add (local.get $w) (i32.mul (i32.mul (local.get $i0) (local.get $kw)) (local.get $wtap))))
        (local.set $orow (i32.add (local.get $out)
          (i32.mul (i32.add (i32.mul (local.get $ib) (local.get $oh)) (local.get $oy)) (i32.mul (local.get $ow) (local.get $co4)))))
        (local.set $ox (i32.const 0))
        (block $px_done (loop $px
          (br_if $px_done (i32.ge_s (local.get $ox) (local.get $ow)))
          (local.set $op (i32.add (local.get $orow) (i32.mul (local.get $ox) (local.get $co4))))
          (if (i32.and (i32.ge_s (local.get $ox) (local.get $oxa)) (i32.le_s (i32.add (local.get $ox) (i32.const 4)) (local.get $oxb)))
            (then
              ;; four interior pixels
              (local.set $xp (i32.add (local.get $xrowp)
                (i32.mul (i32.sub (i32.mul (local.get $ox) (local.get $sw)) (local.get $left)) (local.get $ci4))))
              (if (i32.eq (local.get $co) (i32.const 1))
                (then
                  (call $column4 (local.get $xp) (local.get $wrow) (local.get $bias) (local.get $op)
                    (local.get $xs) (i32.const 4) (local.get $ci) (local.get $ni) (local.get $kw) (local.get $xrow) (i32.const 0)))
                (else
                  (local.set $o (i32.const 0))
                  (loop $oc
                    (call $tile4x8 (local.get $xp)
                      (i32.add (local.get $wrow) (i32.shl (local.get $o) (i32.const 2)))
                      (select (i32.add (local.get $bias) (i32.shl (local.get $o) (i32.const 2))) (i32.const 0) (local.get $bias))
                      (i32.add (local.get $op) (i32.shl (local.get $o) (i32.const 2)))
                      (local.get $xs) (local.get $co4) (local.get $ci) (local.get $co4)
                      (local.get $ni) (local.get $kw) (local.get $xrow) (i32.const 0))
                    (br_if $oc (i32.lt_u (local.tee $o (i32.add (local.get $o) (i32.const 8))) (local.get $co))))))
              (local.set $ox (i32.add (local.get $ox) (i32.const 4))))
            (else
              ;; one pixel, its taps j in [j0, j0 + nj) inside the row
              (local.set $ix0 (i32.sub (i32.mul (local.get $ox) (local.get $sw)) (local.get $left)))
              (local.set $j0 (select (i32.sub (i32.const 0) (local.get $ix0)) (i32.const 0) (i32.lt_s (local.get $ix0) (i32.const 0))))
              (local.set $nj (i32.sub
                (select (local.get $kw) (i32.sub (local.get $wd) (local.get $ix0)) (i32.le_s (local.get $kw) (i32.sub (local.get $wd) (local.get $ix0))))
                (local.get $j0)))
              (if (i32.lt_s (local.get $nj) (i32.const 0)) (then (local.set $nj (i32.const 0))))
              (local.set $xp (i32.add (local.get $xrowp) (i32.mul (i32.add (local.get $ix0) (local.get $j0)) (local.get $ci4))))
              (local.set $wp (i32.add (local.get $wrow) (i32.mul (local.get $j0) (local.get $wtap))))
              (if (i32.eq (local.get $co) (i32.const 1))
                (then
                  (call $column1 (local.get $xp) (local.get $wp) (local.get $bias) (local.get $op)
                    (local.get $ci) (local.get $ni) (local.get $nj) (local.get $xrow)
                    (i32.mul (i32.sub (local.get $kw) (local.get $nj)) (local.get $wtap))))
                (else
                  (local.set $o (i32.const 0))
                  (loop $oc1
                    (call $tile1x8 (local.get $xp)
                      (i32.add (local.get $wp) (i32.shl (local.get $o) (i32.const 2)))
                      (select (i32.add (local.get $bias) (i32.shl (local.get $o) (i32.const 2))) (i32.const 0) (local.get $bias))
                      (i32.add (local.get $op) (i32.shl (local.get $o) (i32.const 2)))
                      (local.get $ci) (local.get $co4)
                      (local.get $ni) (local.get $nj) (local.get $xrow)
                      (i32.mul (i32.sub (local.get $kw) (local.get $nj)) (local.get $wtap)))
                    (br_if $oc1 (i32.lt_u (local.tee $o (i32.add (local.get $o) (i32.const 8))) (local.get $co))))))
              (local.set $ox (i32.add (local.get $ox) (i32.const 1)))))
          (br $px)))
        (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
        (br $rows)))
      (local.set $ib (i32.add (local.get $ib) (i32.const 1)))
      (br $images))))
)
