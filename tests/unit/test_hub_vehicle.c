/* The vehicle and animal path on generated models with the real exports'
 * inputs and outputs: vehicle type (top 3, background/pedestrian never
 * reported, commercial), YOLOv11-seg damage (NMS, masks from prototypes,
 * mask_area in frame pixels, the cap), ResNet-18 pets (dog/cat breeds from
 * the ImageNet labels, other animals), the household list, Depth-Anything
 * (map, relative depth, distance, proximity, a wrong export refused at load
 * naming its shape) and weather. */
#include "test_hub_common.h"
#include "vigil/enrich.h"
#include "vigil/risk.h"

static model_runner veh, dmg, flood, pet, dep, bad, wx;

static int setup(void **s) {
  (void)s;
  if (hub_generate("vehicle damage damageflood pet depth depthbad weather")) return -1;
  char err[512];
  if (runner_load(&veh, hub_path("vehicle-segment.onnx"), 1, err, sizeof err) ||
      runner_load(&dmg, hub_path("damage-seg.onnx"), 1, err, sizeof err) ||
      runner_load(&flood, hub_path("damage-flood.onnx"), 1, err, sizeof err) ||
      runner_load(&pet, hub_path("resnet-18.onnx"), 1, err, sizeof err) ||
      runner_load(&dep, hub_path("depth-anything.onnx"), 1, err, sizeof err) ||
      runner_load(&bad, hub_path("depth-bad.onnx"), 1, err, sizeof err) ||
      runner_load(&wx, hub_path("weather.onnx"), 1, err, sizeof err)) {
    fprintf(stderr, "%s\n", err);
    return -1;
  }
  return 0;
}

static int teardown(void **s) {
  (void)s;
  model_runner *all[] = {&veh, &dmg, &flood, &pet, &dep, &bad, &wx};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) runner_free(all[i]);
  hub_capture_free();
  hub_cleanup();
  return 0;
}

static void vehicle_type(void **s) {
  (void)s;
  vigil_image f;
  hub_frame(&f, 400, 300, 0, 255, 0);      /* green: background and pedestrian win in the model */
  hub_fill(&f, 20, 20, 120, 120, 255, 0, 0); /* a red vehicle */
  hub_fill(&f, 200, 20, 300, 120, 0, 0, 255); /* a blue one */
  vehicle_result v;
  char err[256];
  hub_capture_start();
  assert_int_equal(vehicle_classify(&veh, &v, &f, 20, 20, 120, 120, err, sizeof err), 0);
  hub_capture_stop();
  const vrt_tensor *t = &hub_cap.t[0];
  assert_string_equal(t->name, "pixel_values");
  assert_int_equal(t->dims[2], 224);
  assert_int_equal(t->dims[3], 224);
  assert_float_equal(hub_at(t, 0, 0, 0), 1.0f, 1e-4);  /* (255/255 - 0.5) / 0.5, no crop */
  assert_float_equal(hub_at(t, 1, 223, 223), -1.0f, 1e-4);
  /* logits: pickup 6, background -6, pedestrian -5, work_van -6, the other 7 are 0 */
  float z = expf(6) + 7 + 2 * expf(-6) + expf(-5);
  assert_string_equal(v.vehicle_type, "pickup_truck");
  assert_string_equal(v.display_name, "pickup truck");
  assert_false(v.is_commercial);
  assert_false(v.from_detector);
  assert_float_equal(v.confidence, expf(6) / z, 1e-4);
  assert_int_equal(v.n_top, 3);
  assert_string_equal(v.top_type[1], "articulated_truck"); /* ties in label order */
  assert_float_equal(v.top_score[1], 1 / z, 1e-4);
  assert_int_equal(vehicle_classify(&veh, &v, &f, 200, 20, 300, 120, err, sizeof err), 0);
  assert_string_equal(v.vehicle_type, "work_van");
  assert_true(v.is_commercial);
  /* on green the model's best are background and pedestrian: never reported */
  assert_int_equal(vehicle_classify(&veh, &v, &f, 150, 150, 390, 290, err, sizeof err), 0);
  for (int i = 0; i < v.n_top; i++) {
    assert_string_not_equal(v.top_type[i], "background");
    assert_string_not_equal(v.top_type[i], "pedestrian");
  }
  assert_true(v.confidence < 0.01f);
  /* the fallback: the detector's class */
  assert_int_equal(vehicle_from_detector(&v, "truck", 0.8f), 0);
  assert_true(v.from_detector);
  assert_string_equal(v.vehicle_type, "truck");
  assert_int_equal(vehicle_from_detector(&v, "dog", 0.8f), -1);
  vigil_image_free(&f);
}

static void damage_masks(void **s) {
  (void)s;
  vigil_image f;
  char err[256];
  damage_result d;
  assert_int_equal(damage_check(&dmg, err, sizeof err), 0);
  /* a 640 px vehicle box: letterbox scale 1 */
  hub_frame(&f, 700, 660, 90, 90, 90);
  assert_int_equal(damage_detect(&dmg, &d, &f, 30, 10, 670, 650, err, sizeof err), 0);
  assert_int_equal(d.n, 2); /* the shifted duplicate went in NMS */
  assert_string_equal(d.dets[0].damage_type, "glass_shatter");
  assert_float_equal(d.dets[0].confidence, 0.9f, 1e-5);
  assert_float_equal(d.dets[0].x1, 270 + 30, 1e-3);
  assert_float_equal(d.dets[0].y1, 280 + 10, 1e-3);
  assert_float_equal(d.dets[0].x2, 370 + 30, 1e-3);
  assert_float_equal(d.dets[0].y2, 360 + 10, 1e-3);
  assert_true(d.dets[0].has_mask);
  assert_int_equal(d.dets[0].mask_area, 20 * 20 * 16); /* 20 x 20 prototype cells of 4 x 4 px */
  assert_string_equal(d.dets[1].damage_type, "lamp_broken");
  assert_int_equal(d.dets[1].mask_area, 15 * 11 * 16); /* the box's cells 30..44 x 32..42 */
  assert_int_equal(d.n_types, 2);
  assert_true(d.has_high_security_damage);
  assert_float_equal(d.highest_confidence, 0.9f, 1e-5);
  assert_false(d.capped);
  vigil_image_free(&f);
  /* a 1280 px box: everything twice as large in frame pixels, areas four times */
  hub_frame(&f, 1280, 1280, 90, 90, 90);
  assert_int_equal(damage_detect(&dmg, &d, &f, 0, 0, 1280, 1280, err, sizeof err), 0);
  assert_int_equal(d.n, 2);
  assert_float_equal(d.dets[0].x1, 540, 1e-2);
  assert_float_equal(d.dets[0].y2, 720, 1e-2);
  assert_int_equal(d.dets[0].mask_area, 20 * 20 * 64);
  /* thousands of masks: capped */
  assert_int_equal(damage_detect(&flood, &d, &f, 0, 0, 1280, 1280, err, sizeof err), 0);
  assert_int_equal(d.n, DAMAGE_MAX_DETECTIONS);
  assert_true(d.capped);
  assert_int_equal(d.n_types, 1);
  assert_int_equal(d.type_count[0], DAMAGE_MAX_DETECTIONS);
  vigil_image_free(&f);
  assert_string_equal(damage_canonical("Glass Shatter"), "glass_shatter");
  assert_null(damage_canonical("rust"));
  /* a detect-only model is refused with its outputs named */
  assert_int_equal(damage_check(&veh, err, sizeof err), -1);
  assert_non_null(strstr(err, "vehicle-damage-detection"));
}

static void pets(void **s) {
  (void)s;
  assert_int_equal(imagenet_labels_n, 1000); /* generated from python3-torchvision at build time */
  vigil_image f;
  hub_frame(&f, 600, 300, 255, 0, 0);
  hub_fill(&f, 200, 0, 400, 300, 0, 0, 255);
  hub_fill(&f, 400, 0, 600, 300, 0, 255, 0);
  pet_result p;
  char err[256];
  hub_capture_start();
  assert_int_equal(pet_classify(&pet, &p, &f, 0, 0, 200, 300, err, sizeof err), 0);
  hub_capture_stop();
  /* the centre crop: 0.875 x 200 px square around the box centre, ImageNet mean/std */
  assert_float_equal(hub_at(&hub_cap.t[0], 0, 112, 112), hub_norm(255, 0.485f, 0.229f), 1e-4);
  assert_float_equal(hub_at(&hub_cap.t[0], 2, 0, 0), hub_norm(0, 0.406f, 0.225f), 1e-4);
  assert_string_equal(p.pet_type, "dog");
  assert_string_equal(p.breed, "golden retriever");
  assert_true(p.confidence > 0.99f);
  assert_false(p.from_detector);
  assert_true(pet_household_match("dog:golden retriever, cat", &p));
  assert_true(pet_household_match("dog", &p));
  assert_false(pet_household_match("dog:beagle", &p));
  assert_false(pet_household_match("", &p));
  assert_int_equal(pet_classify(&pet, &p, &f, 200, 0, 400, 300, err, sizeof err), 0);
  assert_string_equal(p.pet_type, "cat");
  assert_string_equal(p.breed, "tabby");
  assert_true(pet_household_match("dog:beagle,cat:tabby", &p));
  assert_int_equal(pet_classify(&pet, &p, &f, 400, 0, 600, 300, err, sizeof err), 0);
  assert_string_equal(p.pet_type, "other");
  assert_string_equal(p.top_label, "jay");
  assert_string_equal(p.breed, "");
  assert_false(pet_household_match("dog,cat", &p));
  /* the fallback: the detector's class, no breed; a known pet by type */
  assert_int_equal(pet_from_detector(&p, "cat", 0.6f), 0);
  assert_true(p.from_detector);
  assert_string_equal(p.pet_type, "cat");
  assert_string_equal(p.breed, "");
  assert_true(pet_household_match("cat:siamese", &p));
  assert_int_equal(pet_from_detector(&p, "bird", 0.6f), 0);
  assert_string_equal(p.pet_type, "other");
  vigil_image_free(&f);
}

static void depth(void **s) {
  (void)s;
  char err[256];
  assert_int_equal(depth_check(&dep, err, sizeof err), 0);
  /* an export without the head's upsampling: refused, its shape named */
  assert_int_equal(depth_check(&bad, err, sizeof err), -1);
  fprintf(stderr, "bad depth export: %s\n", err);
  assert_non_null(strstr(err, "[1,37,37]"));
  vigil_image f;
  hub_frame(&f, 640, 480, 0, 0, 0);
  hub_fill(&f, 0, 0, 320, 480, 255, 255, 255); /* the bright left half is near */
  depth_result d;
  memset(&d, 0, sizeof d);
  hub_capture_start();
  assert_int_equal(depth_estimate(&dep, &d, &f, 40, 100, 200, 340, err, sizeof err), 0);
  hub_capture_stop();
  assert_int_equal(hub_cap.t[0].dims[2], 518);
  assert_int_equal(hub_cap.t[0].dims[3], 518);
  assert_float_equal(hub_at(&hub_cap.t[0], 1, 0, 0), hub_norm(255, 0.456f, 0.224f), 1e-4);
  assert_true(d.has_map);
  assert_int_equal(d.map_w, DEPTH_MAP_MAX);
  assert_int_equal(d.map_h, DEPTH_MAP_MAX);
  assert_int_equal(d.map[10 * DEPTH_MAP_MAX + 10], 255);
  assert_int_equal(d.map[10 * DEPTH_MAP_MAX + 245], 0);
  assert_float_equal(d.relative_depth, 0.0f, 1e-6);
  assert_int_equal(depth_estimate(&dep, &d, &f, 400, 100, 600, 340, err, sizeof err), 0);
  assert_float_equal(d.relative_depth, 1.0f, 1e-6);
  /* distance: default calibration 0.85 x 640 = 544 px per m -> focal 320; a
   * 240 px person is 320 * 1.7 / 240 m away */
  depth_distance(&d, "person", 240, 0, 640);
  assert_true(d.default_calibration);
  assert_float_equal(d.distance_m, 320 * 1.7f / 240, 1e-4);
  assert_string_equal(d.proximity, "close");
  depth_distance(&d, "person", 170, 850, 640); /* the camera's calibration */
  assert_false(d.default_calibration);
  assert_float_equal(d.distance_m, 5.0f, 1e-4);
  assert_string_equal(d.proximity, "medium");
  static const struct {
    float m;
    const char *label;
  } prox[] = {{0.5f, "very_close"}, {1.99f, "very_close"}, {2, "close"}, {4.9f, "close"}, {5, "medium"},
              {9.9f, "medium"},     {10, "far"},           {500, "far"}};
  for (size_t i = 0; i < sizeof prox / sizeof *prox; i++) assert_string_equal(depth_proximity(prox[i].m), prox[i].label);
  vigil_image_free(&f);
}

static void weather(void **s) {
  (void)s;
  char err[256];
  assert_int_equal(weather_check(&wx, err, sizeof err), 0);
  assert_int_equal(weather_check(&pet, err, sizeof err), -1); /* no id2label */
  assert_non_null(strstr(err, "id2label"));
  vigil_image f;
  hub_frame(&f, 320, 240, 0, 0, 255);
  weather_result w;
  assert_int_equal(weather_classify(&wx, &w, &f, err, sizeof err), 0);
  assert_string_equal(w.label, "rain");
  assert_true(w.confidence > 0.99f);
  vigil_image_free(&f);
}

/* The damage model's output reaches the risk rules through the enrichment
 * summary: glass_shatter + lamp_broken at 23:00 is a break-in pattern and a
 * critical alert. */
static void damage_reaches_rules(void **s) {
  (void)s;
  vigil_image f;
  hub_frame(&f, 640, 640, 90, 90, 90);
  enrich_result *r = calloc(1, sizeof *r);
  assert_non_null(r);
  char err[256];
  assert_int_equal(damage_detect(&dmg, &r->damage, &f, 0, 0, 640, 640, err, sizeof err), 0);
  r->has_damage = true;
  assert_int_equal(vehicle_classify(&veh, &r->vehicle, &f, 0, 0, 640, 640, err, sizeof err), 0);
  r->has_vehicle = true;
  vigil_enrichment e;
  enrich_result_summary(r, "car-1", &e);
  assert_true(e.vehicle.present);
  assert_int_equal(e.vehicle.n_damage, 2);
  assert_string_equal(e.vehicle.damage[0].type, "glass_shatter");
  assert_int_equal(e.vehicle.damage[0].count, 1);
  assert_float_equal(e.vehicle.damage[0].avg_confidence, 0.9f, 1e-5);
  vigil_batch b;
  vigil_batch_init(&b, "drive");
  b.local_hour = 23;
  vigil_detection d = {.cls = "car", .confidence = 0.9f};
  snprintf(d.id, sizeof d.id, "car-1");
  assert_int_equal(vigil_batch_add(&b, &d, &e), 0);
  risk_rules_result rr;
  risk_params p = risk_default_params();
  assert_int_equal(risk_rules_score(&rr, &b, &p), 0);
  assert_true(risk_rules_fired(&rr, "damage_breakin"));
  assert_true(risk_rules_fired(&rr, "damage_high_security_night"));
  assert_string_equal(rr.level, "critical");
  char ctx[512];
  assert_true(risk_damage_context(ctx, sizeof ctx, &e.vehicle) > 0);
  assert_non_null(strstr(ctx, "Vehicle Damage Detected (2 instances):"));
  risk_rules_result_free(&rr);
  vigil_batch_free(&b);
  free(r);
  vigil_image_free(&f);
}

int main(void) {
  const struct CMUnitTest t[] = {
      cmocka_unit_test(vehicle_type), cmocka_unit_test(damage_masks), cmocka_unit_test(pets),
      cmocka_unit_test(depth),        cmocka_unit_test(weather),  cmocka_unit_test(damage_reaches_rules),
  };
  return cmocka_run_group_tests(t, setup, teardown);
}
