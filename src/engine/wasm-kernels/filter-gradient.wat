;; Conv2DBackpropFilter, NHWC, in 128-bit wasm SIMD, on the tfjs wasm backend's own memory.
;;
;;   dW[i, j, c, o] = sum over b, y, x of X[b, y*sh + i - top, x*sw + j - left, c] * dY[b, y, x, o]
;;
;; XNNPACK can only compute this as a convolution whose filter is dY, and it packs that filter
;; (the size of a whole activation) anew on every call. Here nothing is packed: for one image row
;; and one filter tap, a tile of dW stays in registers while the row's pixels stream past.
(module
  (import "env" "memory" (memory 0))

  ;; Four rows (input channels c..c+3) by eight columns (output channels o..o+7) of dW at $w
  ;; (row stride $rs bytes), summed over $n pixels: X at $xp (step $xs bytes), dY at $dp (step $ds).
  (func $tile4x8 (param $xp i32) (param $dp i32) (param $w i32) (param $n i32)
                 (param $xs i32) (param $ds i32) (param $rs i32)
    (local $a00 v128) (local $a01 v128) (local $a10 v128) (local $a11 v128)
    (local $a20 v128) (local $a21 v128) (local $a30 v128) (local $a31 v128)
    (local $d0 v128) (local $d1 v128) (local $s v128)
    (local $w1 i32) (local $w2 i32) (local $w3 i32)
    (local.set $w1 (i32.add (local.get $w) (local.get $rs)))
    (local.set $w2 (i32.add (local.get $w1) (local.get $rs)))
    (local.set $w3 (i32.add (local.get $w2) (local.get $rs)))
    (local.set $a00 (v128.load (local.get $w)))
    (local.set $a01 (v128.load offset=16 (local.get $w)))
    (local.set $a10 (v128.load (local.get $w1)))
    (local.set $a11 (v128.load offset=16 (local.get $w1)))
    (local.set $a20 (v128.load (local.get $w2)))
    (local.set $a21 (v128.load offset=16 (local.get $w2)))
    (local.set $a30 (v128.load (local.get $w3)))
    (local.set $a31 (v128.load offset=16 (local.get $w3)))
    (loop $pixels
      (local.set $d0 (v128.load (local.get $dp)))
      (local.set $d1 (v128.load offset=16 (local.get $dp)))
      (local.set $s (v128.load32_splat (local.get $xp)))
      (local.set $a00 (f32x4.add (local.get $a00) (f32x4.mul (local.get $s) (local.get $d0))))
      (local.set $a01 (f32x4.add (local.get $a01) (f32x4.mul (local.get $s) (local.get $d1))))
      (local.set $s (v128.load32_splat offset=4 (local.get $xp)))
      (local.set $a10 (f32x4.add (local.get $a10) (f32x4.mul (local.get $s) (local.get $d0))))
      (local.set $a11 (f32x4.add (local.get $a11) (f32x4.mul (local.get $s) (local.get $d1))))
      (local.set $s (v128.load32_splat offset=8 (local.get $xp)))
      (local.set $a20 (f32x4.add (local.get $a20) (f32x4.mul (local.get $s) (local.get $d0))))
      (local.set $a21 (f32x4.add (local.get $a21) (f32x4.mul (local.get $s) (local.get $d1))))
      (local.set $s (v128.load32_splat offset=12 (local.get $xp)))
      (local.set $a30 (f32x4.add (local.get $a30) (f32x4.mul (local.get $s) (local.get $d0))))
      (local.set $a31 (f32x4.add (local.get $a31) (f32x4.mul (local.get $s) (local.get $d1))))
      (local.set $xp (i32.add (local.get $xp) (local.get $xs)))
      (local.set $dp (i32.add (local.get $dp) (local.get $ds)))
      (br_if $pixels (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (v128.store (local.get $w) (local.get $a00))
    (v128.store offset=16 (local.get $w) (local.get $a01))
    (v128.store (local.get $w1) (local.get $a10))
    (v128.store offset=16 (local.get $w1) (local.get $a11))
    (v128.store (local.get $w2) (local.get $a20))
    (v128.store offset=16 (local.get $w2) (local.get $a21))
    (v128.store (local.get $w3) (local.get $a30))
    (v128.store offset=16 (local.get $w3) (local.get $a31)))

  ;; One row (input channel c) by eight columns: the input channels left over after tiles of four.
  (func $tile1x8 (param $xp i32) (param $dp i32) (param $w i32) (param $n i32)
                 (param $xs i32) (param $ds i32)
    (local $a0 v128) (local $a1 v128) (local $s v128)
    (local.set $a0 (v128.load (local.get $w)))
    (local.set $a1 (v128.load offset=16 (local.get $w)))
    (loop $pixels
      (local.set $s (v128.load32_splat (local.get $xp)))
      (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $s) (v128.load (local.get $dp)))))
      (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $s) (v128.load offset=16 (local.get $dp)))))
      (local.set $xp (i32.add (local.get $xp) (local.get $xs)))
      (local.set $dp (i32.add (local.get $dp) (local.get $ds)))
      (br_if $pixels (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (v128.store (local.get $w) (local.get $a0))
    (v128.store offset=16 (local.get $w) (local.get $a1)))

  ;; One output channel: sixteen input channels (c..c+15) of dW at $w, X's channels as the vectors
  ;; and dY's single value splat.
  (func $column16 (param $xp i32) (param $dp i32) (param $w i32) (param $n i32)
                  (param $xs i32) (param $ds i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $s v128)
    (local.set $a0 (v128.load (local.get $w)))
    (local.set $a1 (v128.load offset=16 (local.get $w)))
    (local.set $a2 (v128.load offset=32 (local.get $w)))
    (local.set $a3 (v128.load offset=48 (local.get $w)))
    (loop $pixels
      (local.set $s (v128.load32_splat (local.get $dp)))
      (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $s) (v128.load (local.get $xp)))))
      (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $s) (v128.load offset=16 (local.get $xp)))))
      (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $s) (v128.load offset=32 (local.get $xp)))))
      (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $s) (v128.load offset=48 (local.get $xp)))))
      (local.set $xp (i32.add (local.get $xp) (local.get $xs)))
      (local.set $dp (i32.add (local.get $dp) (local.get $ds)))
      (br_if $pixels (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (v128.store (local.get $w) (local.get $a0))
    (v128.store offset=16 (local.get $w) (local.get $a1))
    (v128.store offset=32 (local.get $w) (local.get $a2))
    (v128.store offset=48 (local.get $w) (local.get $a3)))

  ;; One output channel, four input channels: what is left after columns of sixteen.
  (func $column4 (param $xp i32) (param $dp i32) (param $w i32) (param $n i32)
                 (param $xs i32) (param $ds i32)
    (local $a0 v128)
    (local.set $a0 (v128.load (local.get $w)))
    (loop $pixels
      (local.set $a0 (f32x4.add (local.get $a0)
        (f32x4.mul (v128.load32_splat (local.get $dp)) (v128.load (local.get $xp)))))
      (local.set $xp (i32.add (local.get $xp) (local.get $xs)))
      (local.set $dp (i32.add (local.get $dp) (local.get $ds)))
      (br_if $pixels (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (v128.store (local.get $w) (local.get $a0)))

  ;; dW (kh x kw x ci x co floats at $dw) from X [b, h, w, ci] at $x and dY [b, oh, ow, co] at $dy.
  ;; Needs co a multiple of 8, or co = 1 and ci a multiple of 4 (the caller checks).
  (func (export "conv2dBackpropFilter")
        (param $x i32) (param $dy i32) (param $dw i32)
        (param $b i32) (param $h i32) (param $w i32) (param $ci i32)
        (param $oh i32) (param $ow i32) (param $co i32)
        (param $kh i32) (param $kw i32) (param $sh i32) (param $sw i32) (param $top i32) (param $left i32)
    (local $n i32) (local $p i32) (local $end i32)
    (local $ib i32) (local $oy i32) (local $i i32) (local $j i32) (local $iy i32)
    (local $ox0 i32) (local $ox1 i32) (local $c i32) (local $o i32)
    (local $xrow i32) (local $dyrow i32) (local $xp i32) (local $dp i32) (local $wp i32)
    (local $xs i32) (local $ds i32) (local $rs i32) (local $tap i32)
    ;; dW = 0
    (local.set $p (local.get $dw))
    (local.set $end (i32.add (local.get $dw)
      (i32.shl (i32.mul (i32.mul (local.get $kh) (local.get $kw)) (i32.mul (local.get $ci) (local.get $co))) (i32.const 2))))
    (block $zeroed (loop $zero
      (br_if $zeroed (i32.ge_u (local.get $p) (local.get $end)))
      (v128.store (local.get $p) (v128.const i32x4 0 0 0 0))
      (local.set $p (i32.add (local.get $p) (i32.const 16)))
      (br $zero)))
    (local.set $xs (i32.shl (i32.mul (local.get $sw) (local.get $ci)) (i32.const 2)))
    (local.set $ds (i32.shl (local.get $co) (i32.const 2)))
    (local.set $rs (i32.shl (local.get $co) (i32.const 2)))
    (local.set $ib (i32.const 0))
    (block $images_done (loop $images
      (br_if $images_done (i32.ge_u (local.get $ib) (local.get $b)))
      (local.set $oy (i32.const 0))
      (block $rows_done (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $oy) (local.get $oh)))
        (local.set $dyrow (i32.add (local.get $dy)
          (i32.shl (i32.mul (i32.add (i32.mul (local.get $ib) (local.get $oh)) (local.get $oy)) (i32.mul (local.get $ow) (local.get $co))) (i32.const 2))))
        (local.set $i (i32.const 0))
        (block $i_done (loop $i_loop
          (br_if $i_done (i32.ge_u (local.get $i) (local.get $kh)))
          (local.set $iy (i32.sub (i32.add (i32.mul (local.get $oy) (local.get $sh)) (local.get $i)) (local.get $top)))
          (if (i32.and (i32.ge_s (local.get $iy) (i32.const 0)) (i32.lt_s (local.get $iy) (local.get $h)))
            (then
              (local.set $xrow (i32.add (local.get $x)
                (i32.shl (i32.mul (i32.add (i32.mul (local.get $ib) (local.get $h)) (local.get $iy)) (i32.mul (local.get $w) (local.get $ci))) (i32.const 2))))
              (local.set $j (i32.const 0))
              (block $j_done (loop $j_loop
                (br_if $j_done (i32.ge_u (local.get $j) (local.get $kw)))
                ;; the output columns whose input column ox*sw + j - left lies inside the row
                (local.set $ox0 (i32.const 0))
                (block $lo (loop $lo_loop
                  (br_if $lo (i32.ge_s (i32.sub (i32.add (i32.mul (local.get $ox0) (local.get $sw)) (local.get $j)) (local.get $left)) (i32.const 0)))
                  (local.set $ox0 (i32.add (local.get $ox0) (i32.const 1)))
                  (br $lo_loop)))
                (local.set $ox1 (local.get $ow))
                (block $hi (loop $hi_loop
                  (br_if $hi (i32.le_s (local.get $ox1) (local.get $ox0)))
                  (br_if $hi (i32.lt_s (i32.sub (i32.add (i32.mul (i32.sub (local.get $ox1) (i32.const 1)) (local.get $sw)) (local.get $j)) (local.get $left)) (local.get $w)))
                  (local.set $ox1 (i32.sub (local.get $ox1) (i32.const 1)))
                  (br $hi_loop)))
                (if (i32.lt_s (local.get $ox0) (local.get $ox1))
                  (then
                    (local.set $n (i32.sub (local.get $ox1) (local.get $ox0)))
                    (local.set $tap (i32.add (i32.mul (local.get $i) (local.get $kw)) (local.get $j)))
                    ;; X at (iy, ox0*sw + j - left), dY at (oy, ox0)
                    (local.set $xp (i32.add (local.get $xrow)
                      (i32.shl (i32.mul (i32.sub (i32.add (i32.mul (local.get $ox0) (local.get $sw)) (local.get $j)) (local.get $left)) (local.get $ci)) (i32.const 2))))
                    (local.set $dp (i32.add (local.get $dyrow) (i32.shl (i32.mul (local.get $ox0) (local.get $co)) (i32.const 2))))
                    (if (i32.eq (local.get $co) (i32.const 1))
                      (then
                        ;; one output channel: vectors run along the input channels
                        (local.set $c (i32.const 0))
                        (block $c_done (loop $c_loop
                          (br_if $c_done (i32.gt_s (i32.add (local.get $c) (i32.const 16)) (local.get $ci)))
                          (call $column16
                            (i32.add (local.get $xp) (i32.shl (local.get $c) (i32.const 2))) (local.get $dp)
                            (i32.add (local.get $dw) (i32.shl (i32.add (i32.mul (local.get $tap) (local.get $ci)) (local.get $c)) (i32.const 2)))
                            (local.get $n) (local.get $xs) (local.get $ds))
                          (local.set $c (i32.add (local.get $c) (i32.const 16)))
                          (br $c_loop)))
                        (block $c4_done (loop $c4_loop
                          (br_if $c4_done (i32.gt_s (i32.add (local.get $c) (i32.const 4)) (local.get $ci)))
                          (call $column4
                            (i32.add (local.get $xp) (i32.shl (local.get $c) (i32.const 2))) (local.get $dp)
                            (i32.add (local.get $dw) (i32.shl (i32.add (i32.mul (local.get $tap) (local.get $ci)) (local.get $c)) (i32.const 2)))
                            (local.get $n) (local.get $xs) (local.get $ds))
                          (local.set $c (i32.add (local.get $c) (i32.const 4)))
                          (br $c4_loop))))
                      (else
                        ;; vectors run along the output channels, input channels splat
                        (local.set $o (i32.const 0))
                        (block $o_done (loop $o_loop
                          (br_if $o_done (i32.ge_u (local.get $o) (local.get $co)))
                          (local.set $c (i32.const 0))
                          (block $c_done (loop $c_loop
                            (br_if $c_done (i32.gt_s (i32.add (local.get $c) (i32.const 4)) (local.get $ci)))
                            (call $tile4x8
                              (i32.add (local.get $xp) (i32.shl (local.get $c) (i32.const 2)))
                              (i32.add (local.get $dp) (i32.shl (local.get $o) (i32.const 2)))
                              (i32.add (local.get $dw) (i32.shl (i32.add (i32.mul (i32.add (i32.mul (local.get $tap) (local.get $ci)) (local.get $c)) (local.get $co)) (local.get $o)) (i32.const 2)))
                              (local.get $n) (local.get $xs) (local.get $ds) (local.get $rs))
                            (local.set $c (i32.add (local.get $c) (i32.const 4)))
                            (br $c_loop)))
                          (block $c1_done (loop $c1_loop
                            (br_if $c1_done (i32.ge_u (local.get $c) (local.get $ci)))
                            (call $tile1x8
                              (i32.add (local.get $xp) (i32.shl (local.get $c) (i32.const 2)))
                              (i32.add (local.get $dp) (i32.shl (local.get $o) (i32.const 2)))
                              (i32.add (local.get $dw) (i32.shl (i32.add (i32.mul (i32.add (i32.mul (local.get $tap) (local.get $ci)) (local.get $c)) (local.get $co)) (local.get $o)) (i32.const 2)))
                              (local.get $n) (local.get $xs) (local.get $ds))
                            (local.set $c (i32.add (local.get $c) (i32.const 1)))
                            (br $c1_loop)))
                          (local.set $o (i32.add (local.get $o) (i32.const 8)))
                          (br $o_loop)))))))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $j_loop)))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $i_loop)))
        (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
        (br $rows)))
      (local.set $ib (i32.add (local.get $ib) (i32.const 1)))
      (br $images))))
)
