// Command hostpath-provisioner is the local cluster's dynamic volume provisioner: for every pending PVC whose
// StorageClass names provisioner kemr.io/hostpath it creates a hostPath PersistentVolume pre-bound to the claim
// (once the scheduler has chosen a node, for WaitForFirstConsumer classes, and pinned to that node),
// and it deletes Released volumes whose reclaim policy is Delete (removing their directory under --root).
// On kwok nodes nothing is mounted, so the directory only matters for a real node on this host.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
)

const provisionerName = "kemr.io/hostpath"

type provisioner struct {
	client  kubernetes.Interface
	classes func(name string) (*storagev1.StorageClass, error)
	root    string
}

func (p *provisioner) syncClaim(ctx context.Context, pvc *corev1.PersistentVolumeClaim) {
	if pvc.Spec.VolumeName != "" || pvc.Status.Phase != corev1.ClaimPending || pvc.DeletionTimestamp != nil {
		return
	}
	className := ""
	if pvc.Spec.StorageClassName != nil {
		className = *pvc.Spec.StorageClassName
	}
	class, err := p.classes(className)
	if err != nil || class.Provisioner != provisionerName {
		return
	}
	// WaitForFirstConsumer, as real provisioners: wait until the scheduler has picked the pod's node, then pin
	// the volume there. Provisioning earlier races the scheduler's own binding and costs pods retry backoffs.
	node := pvc.Annotations["volume.kubernetes.io/selected-node"]
	waitForConsumer := class.VolumeBindingMode != nil && *class.VolumeBindingMode == storagev1.VolumeBindingWaitForFirstConsumer
	if waitForConsumer && node == "" {
		return
	}
	reclaim := corev1.PersistentVolumeReclaimDelete
	if class.ReclaimPolicy != nil {
		reclaim = *class.ReclaimPolicy
	}
	size := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	// The directory is made here, world-writable (as rancher's local-path-provisioner does): hostPath volumes
	// ignore fsGroup, and the kubelet's DirectoryOrCreate would leave it root-owned 0755, unwritable for the
	// non-root pods that Pod Security "restricted" requires.
	dir := filepath.Join(p.root, pvc.Namespace+"-"+pvc.Name+"-"+string(pvc.UID)[:8])
	if err := makeWritableDir(dir); err != nil {
		klog.ErrorS(err, "provisioning failed", "pvc", klog.KObj(pvc))
		return
	}
	hostPathType := corev1.HostPathDirectory
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{
			Name:        "pvc-" + string(pvc.UID),
			Annotations: map[string]string{"pv.kubernetes.io/provisioned-by": provisionerName},
		},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: size},
			AccessModes:                   pvc.Spec.AccessModes,
			PersistentVolumeReclaimPolicy: reclaim,
			StorageClassName:              class.Name,
			VolumeMode:                    pvc.Spec.VolumeMode,
			ClaimRef: &corev1.ObjectReference{
				Kind: "PersistentVolumeClaim", APIVersion: "v1",
				Namespace: pvc.Namespace, Name: pvc.Name, UID: pvc.UID,
			},
			PersistentVolumeSource: corev1.PersistentVolumeSource{
				HostPath: &corev1.HostPathVolumeSource{
					Path: dir,
					Type: &hostPathType,
				},
			},
		},
	}
	if node != "" {
		pv.Spec.NodeAffinity = &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
				Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpIn, Values: []string{node},
			}}}},
		}}
	}
	_, err = p.client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{})
	switch {
	case err == nil:
		klog.InfoS("provisioned", "pvc", klog.KObj(pvc), "pv", pv.Name, "size", size.String())
	case !apierrors.IsAlreadyExists(err):
		klog.ErrorS(err, "provisioning failed", "pvc", klog.KObj(pvc))
	}
}

func (p *provisioner) syncVolume(ctx context.Context, pv *corev1.PersistentVolume) {
	if pv.Annotations["pv.kubernetes.io/provisioned-by"] != provisionerName ||
		pv.Status.Phase != corev1.VolumeReleased ||
		pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimDelete {
		return
	}
	if hp := pv.Spec.HostPath; hp != nil && strings.HasPrefix(hp.Path, p.root+string(filepath.Separator)) {
		if err := os.RemoveAll(hp.Path); err != nil {
			klog.ErrorS(err, "removing volume directory", "pv", pv.Name)
		}
	}
	err := p.client.CoreV1().PersistentVolumes().Delete(ctx, pv.Name, metav1.DeleteOptions{})
	if err == nil {
		klog.InfoS("deleted released volume", "pv", pv.Name)
	} else if !apierrors.IsNotFound(err) {
		klog.ErrorS(err, "deleting released volume", "pv", pv.Name)
	}
}

func main() {
	kubeconfig := flag.String("kubeconfig", "", "path to the kubeconfig")
	root := flag.String("root", "/var/lib/kemr-hostpath", "directory holding the volumes' directories")
	klog.InitFlags(nil)
	flag.Parse()

	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// client-go's default of 5 requests/s would make volume binding the bottleneck of a cluster's start.
	cfg.QPS, cfg.Burst = 100, 200
	client := kubernetes.NewForConfigOrDie(cfg)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	factory := informers.NewSharedInformerFactory(client, 30*time.Second)
	classLister := factory.Storage().V1().StorageClasses().Lister()
	p := &provisioner{client: client, classes: classLister.Get, root: filepath.Clean(*root)}

	onClaim := func(obj interface{}) {
		if pvc, ok := obj.(*corev1.PersistentVolumeClaim); ok {
			p.syncClaim(ctx, pvc)
		}
	}
	onVolume := func(obj interface{}) {
		if pv, ok := obj.(*corev1.PersistentVolume); ok {
			p.syncVolume(ctx, pv)
		}
	}
	_, _ = factory.Core().V1().PersistentVolumeClaims().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: onClaim, UpdateFunc: func(_, obj interface{}) { onClaim(obj) },
	})
	_, _ = factory.Core().V1().PersistentVolumes().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: onVolume, UpdateFunc: func(_, obj interface{}) { onVolume(obj) },
	})
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	klog.InfoS("hostpath provisioner running", "provisioner", provisionerName, "root", p.root)
	<-ctx.Done()
}

// makeWritableDir creates dir with mode 0777 whatever the process umask.
func makeWritableDir(dir string) error {
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return err
	}
	return os.Chmod(dir, 0o777)
}
